package db

import (
	"encoding/binary"
	"encoding/json"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	bolt "go.etcd.io/bbolt"
)

func revKey(n int) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, uint64(n))
	return k
}

// SetHistory sets how many revisions per app CreateRevision keeps; n < 1
// means cluster.DefaultHistory. It is safe to call at any time.
func (db *DB) SetHistory(n int) { db.history.Store(int64(n)) }

// CreateRevision stores rev as the app's next revision, setting rev.Number
// and rev.Time. The app must exist. In the same transaction it deletes the
// app's revisions beyond the history limit (see pruneRevisions), so the
// file does not grow with every deploy.
func (db *DB) CreateRevision(rev *cluster.Revision) error {
	return db.update(func(tx *bolt.Tx) error {
		if err := requireApp(tx, rev.App); err != nil {
			return err
		}
		b, err := tx.Bucket(bucketRevisions).CreateBucketIfNotExists([]byte(rev.App))
		if err != nil {
			return err
		}
		last := 0
		if k, _ := b.Cursor().Last(); k != nil {
			last = int(binary.BigEndian.Uint64(k))
		}
		rev.Number = last + 1
		rev.Time = db.now().UTC()
		if err := db.putRevision(tx, rev); err != nil {
			return err
		}
		return db.prune(tx, b, rev.App)
	})
}

// prune deletes the revisions of app that cluster.PruneRevisions picks.
func (db *DB) prune(tx *bolt.Tx, b *bolt.Bucket, app string) error {
	keep := cluster.HistoryLimit(db.history.Load())
	n := 0
	c := b.Cursor()
	for k, _ := c.First(); k != nil && n <= keep; k, _ = c.Next() {
		n++
	}
	if n <= keep {
		return nil
	}
	a, err := db.getApp(tx, app)
	if err != nil {
		return err
	}
	var revs []cluster.RevisionState
	err = b.ForEach(func(k, v []byte) error {
		var st struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(v, &st); err != nil {
			return err
		}
		revs = append(revs, cluster.RevisionState{Number: int(binary.BigEndian.Uint64(k)), Status: st.Status})
		return nil
	})
	if err != nil {
		return err
	}
	for _, n := range cluster.PruneRevisions(revs, a.Revision, keep) {
		if err := b.Delete(revKey(n)); err != nil {
			return err
		}
	}
	return nil
}

// FinishRevision records a revision's outcome. When status is succeeded,
// the app takes the revision's image, count, port, health check and envs in
// the same transaction, so the data file never says an app runs something it
// does not.
func (db *DB) FinishRevision(app string, number int, status, reason string) (*cluster.Revision, error) {
	var rev *cluster.Revision
	err := db.update(func(tx *bolt.Tx) error {
		var err error
		if rev, err = db.getRevision(tx, app, number); err != nil {
			return err
		}
		rev.Finish(status, reason)
		if err := db.putRevision(tx, rev); err != nil {
			return err
		}
		if status != cluster.StatusSucceeded {
			return nil
		}
		a, err := db.getApp(tx, app)
		if err != nil {
			return err
		}
		a.Apply(rev)
		return db.putApp(tx, a)
	})
	return rev, err
}

// Revision returns one revision of an app, or ENOTFOUND.
func (db *DB) Revision(app string, number int) (*cluster.Revision, error) {
	var rev *cluster.Revision
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		rev, err = db.getRevision(tx, app, number)
		return err
	})
	return rev, err
}

func (db *DB) getRevision(tx *bolt.Tx, app string, number int) (*cluster.Revision, error) {
	var buf []byte
	if b := tx.Bucket(bucketRevisions).Bucket([]byte(app)); b != nil {
		buf = b.Get(revKey(number))
	}
	if buf == nil {
		return nil, cluster.Errorf(cluster.ENOTFOUND, "App %s has no revision %d", app, number).WithFix("see its revisions with", cluster.OpHistory, cluster.ArgApp, app)
	}
	return db.keyring.DecodeRevision(buf)
}

// putRevision stores a revision of an app whose bucket exists, its env
// values sealed.
func (db *DB) putRevision(tx *bolt.Tx, rev *cluster.Revision) error {
	buf, err := db.keyring.EncodeRevision(rev)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketRevisions).Bucket([]byte(rev.App)).Put(revKey(rev.Number), buf)
}

// Revisions returns an app's revisions, newest first.
func (db *DB) Revisions(app string) ([]cluster.Revision, error) {
	revs := []cluster.Revision{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if err := requireApp(tx, app); err != nil {
			return err
		}
		b := tx.Bucket(bucketRevisions).Bucket([]byte(app))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			rev, err := db.keyring.DecodeRevision(v)
			if err != nil {
				return err
			}
			revs = append(revs, *rev)
		}
		return nil
	})
	return revs, err
}

// Deploying returns every revision whose status is still deploying: after
// a crash these are the deploys that were cut short.
func (db *DB) Deploying() ([]cluster.Revision, error) {
	var revs []cluster.Revision
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRevisions).ForEachBucket(func(app []byte) error {
			return tx.Bucket(bucketRevisions).Bucket(app).ForEach(func(_, v []byte) error {
				rev, err := db.keyring.DecodeDeploying(v)
				if rev != nil {
					revs = append(revs, *rev)
				}
				return err
			})
		})
	})
	return revs, err
}

// RecordOOM counts an instance of revision number killed for memory at at.
func (db *DB) RecordOOM(app string, number int, at time.Time) error {
	return db.update(func(tx *bolt.Tx) error {
		rev, err := db.getRevision(tx, app, number)
		if err != nil {
			return err
		}
		rev.OOMKills++
		if at.After(rev.LastOOM) {
			rev.LastOOM = at.UTC()
		}
		return db.putRevision(tx, rev)
	})
}
