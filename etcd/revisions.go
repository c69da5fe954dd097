package etcd

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// revKey pads the number so that keys sort as numbers.
func (s *Store) revKey(app string, n int) string {
	return s.key(cluster.RecordRevision, app, fmt.Sprintf("%020d", n))
}

func revNumber(kv *mvccpb.KeyValue) int {
	k := string(kv.Key)
	n, _ := strconv.Atoi(k[strings.LastIndexByte(k, '/')+1:])
	return n
}

// SetHistory sets how many revisions per app CreateRevision keeps; n < 1
// means cluster.DefaultHistory.
func (s *Store) SetHistory(n int) { s.history.Store(int64(n)) }

// CreateRevision stores rev as the app's next revision, setting rev.Number
// and rev.Time, and in the same Txn deletes the revisions beyond the
// history limit that cluster.PruneRevisions picks (at most maxPruneOps).
func (s *Store) CreateRevision(rev *cluster.Revision) error {
	return s.update(func(t *txn) error {
		app, err := s.getApp(t, rev.App)
		if err != nil {
			return err
		}
		// Keys first: the values (up to 64 KB of envs each) are read only
		// when there are revisions to prune.
		prefix := s.key(cluster.RecordRevision, rev.App, "")
		kvs, err := t.listKeys(prefix)
		if err != nil {
			return err
		}
		rev.Number = 1
		if len(kvs) > 0 {
			rev.Number = revNumber(kvs[len(kvs)-1]) + 1
		}
		rev.Time = s.now().UTC()
		if err := s.putRevision(t, rev); err != nil {
			return err
		}
		keep := cluster.HistoryLimit(s.history.Load())
		if len(kvs)+1 <= keep {
			return nil
		}
		if kvs, err = t.list(prefix); err != nil {
			return err
		}
		var states []cluster.RevisionState
		for _, kv := range kvs {
			var st struct {
				Status string `json:"status"`
			}
			if err := json.Unmarshal(kv.Value, &st); err != nil {
				return err
			}
			states = append(states, cluster.RevisionState{Number: revNumber(kv), Status: st.Status})
		}
		states = append(states, cluster.RevisionState{Number: rev.Number, Status: rev.Status})
		prune := cluster.PruneRevisions(states, app.Revision, keep)
		for _, n := range prune[:min(len(prune), maxPruneOps)] {
			t.del(s.revKey(rev.App, n))
		}
		return nil
	})
}

// FinishRevision records a revision's outcome; when status is succeeded
// the app takes the revision's settings in the same Txn.
func (s *Store) FinishRevision(app string, number int, status, reason string) (*cluster.Revision, error) {
	var rev *cluster.Revision
	err := s.update(func(t *txn) error {
		var err error
		if rev, err = s.getRevision(t, app, number); err != nil {
			return err
		}
		rev.Finish(status, reason)
		if err := s.putRevision(t, rev); err != nil {
			return err
		}
		if status != cluster.StatusSucceeded {
			return nil
		}
		a, err := s.getApp(t, app)
		if err != nil {
			return err
		}
		a.Apply(rev)
		return s.putApp(t, a)
	})
	return rev, err
}

// Revision returns one revision of an app, or ENOTFOUND.
func (s *Store) Revision(app string, number int) (*cluster.Revision, error) {
	var rev *cluster.Revision
	err := s.view(func(t *txn) error {
		var err error
		rev, err = s.getRevision(t, app, number)
		return err
	})
	return rev, err
}

func (s *Store) getRevision(t *txn, app string, number int) (*cluster.Revision, error) {
	buf, err := t.get(s.revKey(app, number))
	if err != nil {
		return nil, err
	}
	if buf == nil {
		return nil, cluster.Errorf(cluster.ENOTFOUND, "App %s has no revision %d: see its revisions with GET /%s/history.", app, number, app)
	}
	return s.keyring.DecodeRevision(buf)
}

// putRevision stores a revision, its env values sealed.
func (s *Store) putRevision(t *txn, rev *cluster.Revision) error {
	buf, err := s.keyring.EncodeRevision(rev)
	if err != nil {
		return err
	}
	t.put(s.revKey(rev.App, rev.Number), buf)
	return nil
}

// Revisions returns an app's revisions, newest first.
func (s *Store) Revisions(app string) ([]cluster.Revision, error) {
	revs := []cluster.Revision{}
	err := s.view(func(t *txn) error {
		revs = revs[:0]
		if err := s.requireApp(t, app); err != nil {
			return err
		}
		kvs, err := t.list(s.key(cluster.RecordRevision, app, ""))
		for _, kv := range slices.Backward(kvs) {
			rev, err := s.keyring.DecodeRevision(kv.Value)
			if err != nil {
				return err
			}
			revs = append(revs, *rev)
		}
		return err
	})
	return revs, err
}

// Deploying returns every revision whose status is still deploying.
func (s *Store) Deploying() ([]cluster.Revision, error) {
	var revs []cluster.Revision
	err := s.view(func(t *txn) error {
		revs = nil
		kvs, err := t.list(s.key(cluster.RecordRevision, ""))
		for _, kv := range kvs {
			rev, err := s.keyring.DecodeDeploying(kv.Value)
			if err != nil {
				return err
			}
			if rev != nil {
				revs = append(revs, *rev)
			}
		}
		return err
	})
	return revs, err
}

// RecordOOM counts an instance of revision number killed for memory at at.
func (s *Store) RecordOOM(app string, number int, at time.Time) error {
	return s.update(func(t *txn) error {
		rev, err := s.getRevision(t, app, number)
		if err != nil {
			return err
		}
		rev.OOMKills++
		if at.After(rev.LastOOM) {
			rev.LastOOM = at.UTC()
		}
		return s.putRevision(t, rev)
	})
}
