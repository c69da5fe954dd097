package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Records calls fn with every record under the prefix, read at one etcd
// revision in pages of 500 keys. It implements cluster.RecordStore.
func (s *Store) Records(fn func(cluster.Record) error) error {
	return s.scan(s.root+"/", 500, func(key string, value []byte) error {
		recs, err := s.records(key, value)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// records turns one key into the records it holds: one, or for an
// instances key one per instance, each with its JSON as stored.
func (s *Store) records(key string, value []byte) ([]cluster.Record, error) {
	kind, rest, _ := strings.Cut(strings.TrimPrefix(key, s.root+"/"), "/")
	switch kind {
	case cluster.RecordMeta, cluster.RecordApp, cluster.RecordHost, cluster.RecordRegistry, cluster.RecordCert, cluster.RecordToken, cluster.RecordAudit:
		return []cluster.Record{{Kind: kind, Key: rest, Value: value}}, nil
	case cluster.RecordRevision:
		app, n, _ := strings.Cut(rest, "/")
		num, err := strconv.Atoi(n)
		if err != nil {
			return nil, fmt.Errorf("key %s: not a revision number", key)
		}
		return []cluster.Record{{Kind: kind, Scope: app, Key: strconv.Itoa(num), Value: value}}, nil
	case cluster.RecordTask, cluster.RecordJob:
		app, id, _ := strings.Cut(rest, "/")
		return []cluster.Record{{Kind: kind, Scope: app, Key: id, Value: value}}, nil
	case cluster.RecordInstance:
		var raw []json.RawMessage
		if err := json.Unmarshal(value, &raw); err != nil {
			return nil, fmt.Errorf("key %s: %w", key, err)
		}
		recs := make([]cluster.Record, 0, len(raw))
		for _, r := range raw {
			var id struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(r, &id); err != nil {
				return nil, fmt.Errorf("key %s: %w", key, err)
			}
			recs = append(recs, cluster.Record{Kind: kind, Scope: rest, Key: id.ID, Value: r})
		}
		sort.Slice(recs, func(i, j int) bool { return recs[i].Key < recs[j].Key })
		return recs, nil
	case electionDir:
		// The running controllers' campaign keys: leases, not records.
		return nil, nil
	}
	return nil, fmt.Errorf("key %s under the prefix is not Longshoreman's", key)
}

// PutRecords stores records as they are in one Txn: one operation per
// record, except that the instance records of one app merge into its
// instances key. It implements cluster.RecordStore.
func (s *Store) PutRecords(recs []cluster.Record) error {
	return s.update(func(t *txn) error {
		byApp := map[string][]cluster.Record{}
		for _, r := range recs {
			switch r.Kind {
			case cluster.RecordMeta, cluster.RecordApp, cluster.RecordHost, cluster.RecordRegistry, cluster.RecordCert, cluster.RecordToken, cluster.RecordAudit:
				if r.Value == nil {
					t.del(s.key(r.Kind, r.Key))
				} else {
					t.put(s.key(r.Kind, r.Key), r.Value)
				}
			case cluster.RecordRevision:
				n, err := strconv.Atoi(r.Key)
				if err != nil || n < 1 {
					return fmt.Errorf("revision record %s/%q: the key is not a revision number", r.Scope, r.Key)
				}
				if r.Value == nil {
					t.del(s.revKey(r.Scope, n))
				} else {
					t.put(s.revKey(r.Scope, n), r.Value)
				}
			case cluster.RecordTask, cluster.RecordJob: // P/KIND/<app>/<id or name>
				if r.Value == nil {
					t.del(s.key(r.Kind, r.Scope, r.Key))
				} else {
					t.put(s.key(r.Kind, r.Scope, r.Key), r.Value)
				}
			case cluster.RecordInstance:
				byApp[r.Scope] = append(byApp[r.Scope], r)
			default:
				return fmt.Errorf("record of unknown kind %q", r.Kind)
			}
		}
		for app, rs := range byApp {
			buf, err := t.get(s.key(cluster.RecordInstance, app))
			if err != nil {
				return err
			}
			var raw []json.RawMessage
			if buf != nil {
				if err := json.Unmarshal(buf, &raw); err != nil {
					return err
				}
			}
			byID := map[string]json.RawMessage{}
			for _, r := range raw {
				var id struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(r, &id); err != nil {
					return err
				}
				byID[id.ID] = r
			}
			for _, r := range rs {
				if r.Value == nil {
					delete(byID, r.Key)
				} else {
					byID[r.Key] = r.Value
				}
			}
			var insts []cluster.Instance
			for _, r := range byID {
				var inst cluster.Instance
				if err := json.Unmarshal(r, &inst); err != nil {
					return fmt.Errorf("instance record %s/%s: %w", app, inst.ID, err)
				}
				insts = append(insts, inst)
			}
			if err := s.putInstances(t, app, insts); err != nil {
				return err
			}
		}
		return nil
	})
}

// watch follows every write under the prefix from the revision Open read
// at, so that the generation and the copy of the instances see other
// controllers' writes. After a lost connection it resumes where it was;
// when compaction removed the revisions it needed, it drops the copy once
// a new watch from now runs, so nothing falls between the two.
func (s *Store) watch(next int64) {
	defer s.wg.Done()
	for s.ctx.Err() == nil {
		opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithCreatedNotify()}
		if next > 0 {
			opts = append(opts, clientv3.WithRev(next))
		}
		ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(s.ctx))
		for resp := range s.client.Watch(ctx, s.root+"/", opts...) {
			if resp.CompactRevision != 0 {
				next = 0
				break
			}
			if resp.Err() != nil {
				break
			}
			if resp.Created {
				if next == 0 {
					s.instancesChanged()
					s.generation.Add(1)
				}
				continue
			}
			s.generation.Add(1)
			for _, ev := range resp.Events {
				s.watched(ev)
				next = ev.Kv.ModRevision + 1
			}
		}
		cancel()
		select {
		case <-s.ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// compactLoop compacts etcd's history every CompactInterval, keeping the
// last CompactKeep revisions (as kine does), so old versions of routing
// versions and instance lists do not fill etcd's space quota.
func (s *Store) compactLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.CompactInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
			_, _ = s.Compact()
		}
	}
}

// Compact compacts etcd's history up to CompactKeep revisions before the
// current one, and returns the revision it compacted to (0 when there was
// nothing to do). Compaction applies to the whole etcd keyspace, not just
// the prefix; a revision already compacted by another controller is not an
// error.
func (s *Store) Compact() (int64, error) {
	ctx, cancel := s.callContext()
	defer cancel()
	resp, err := s.client.Get(ctx, s.metaKey(keySchema), clientv3.WithCountOnly())
	if err != nil {
		return 0, s.unavailable(etcdErr(err))
	}
	target := resp.Header.Revision - s.cfg.CompactKeep
	if target <= 0 {
		return 0, nil
	}
	if _, err := s.client.Compact(ctx, target); err != nil {
		if isCompacted(err) {
			return 0, nil
		}
		return 0, s.unavailable(etcdErr(err))
	}
	return target, nil
}
