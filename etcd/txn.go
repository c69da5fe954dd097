package etcd

import (
	"math/rand/v2"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// txn is one attempt of a read-modify-write: reads at one etcd revision
// (the first read's), and the writes to commit if nothing read changed.
type txn struct {
	s       *Store
	rev     int64
	guarded map[string]bool
	cmps    []clientv3.Cmp
	ops     []clientv3.Op
	// instances holds each app's instances as the writes leave them (nil
	// when deleted), for the in-memory copy once committed.
	instances map[string][]cluster.Instance
	revision  int64 // of the commit
}

func (s *Store) newTxn() *txn {
	return &txn{s: s, guarded: map[string]bool{}, instances: map[string][]cluster.Instance{}}
}

func (t *txn) readOpts(extra ...clientv3.OpOption) []clientv3.OpOption {
	if t.rev > 0 {
		extra = append(extra, clientv3.WithRev(t.rev))
	}
	return extra
}

// get returns key's value at the txn's revision (nil when absent) and
// guards the commit by its ModRevision.
func (t *txn) get(key string) ([]byte, error) {
	ctx, cancel := t.s.callContext()
	defer cancel()
	resp, err := t.s.client.Get(ctx, key, t.readOpts()...)
	if err != nil {
		return nil, etcdErr(err)
	}
	if t.rev == 0 {
		t.rev = resp.Header.Revision
	}
	var mod int64
	var v []byte
	if len(resp.Kvs) > 0 {
		mod, v = resp.Kvs[0].ModRevision, resp.Kvs[0].Value
	}
	if !t.guarded[key] {
		t.guarded[key] = true
		t.cmps = append(t.cmps, clientv3.Compare(clientv3.ModRevision(key), "=", mod))
	}
	return v, nil
}

// list returns the keys under prefix at the txn's revision, sorted, and
// guards the commit by none of them having been modified or created since.
// A deletion under the prefix is not seen by that guard: every write that
// deletes under a listed prefix also changes a key read with get (the app's).
func (t *txn) list(prefix string) ([]*mvccpb.KeyValue, error) {
	return t.listWith(prefix, clientv3.WithPrefix())
}

// listKeys is list without the values.
func (t *txn) listKeys(prefix string) ([]*mvccpb.KeyValue, error) {
	return t.listWith(prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
}

func (t *txn) listWith(prefix string, opts ...clientv3.OpOption) ([]*mvccpb.KeyValue, error) {
	ctx, cancel := t.s.callContext()
	defer cancel()
	resp, err := t.s.client.Get(ctx, prefix, t.readOpts(opts...)...)
	if err != nil {
		return nil, etcdErr(err)
	}
	if t.rev == 0 {
		t.rev = resp.Header.Revision
	}
	if !t.guarded[prefix+"*"] {
		t.guarded[prefix+"*"] = true
		t.cmps = append(t.cmps, clientv3.Compare(clientv3.ModRevision(prefix), "<", t.rev+1).WithPrefix())
	}
	return resp.Kvs, nil
}

func (t *txn) put(key string, value []byte) {
	t.ops = append(t.ops, clientv3.OpPut(key, string(value)))
}
func (t *txn) del(key string) { t.ops = append(t.ops, clientv3.OpDelete(key)) }
func (t *txn) delPrefix(prefix string) {
	t.ops = append(t.ops, clientv3.OpDelete(prefix, clientv3.WithPrefix()))
}

// commit runs the writes if nothing read changed; ok is false when
// something did.
func (t *txn) commit() (ok bool, err error) {
	if len(t.ops) == 0 {
		return true, nil
	}
	if len(t.ops) > maxTxnOps || len(t.cmps)+1 > maxTxnOps {
		return false, cluster.Errorf(cluster.EINTERNAL, "A write of %d operations and %d comparisons exceeds etcd's %d per transaction.", len(t.ops), len(t.cmps), maxTxnOps)
	}
	ctx, cancel := t.s.callContext()
	defer cancel()
	cmps, fence := t.cmps, t.s.writeFence()
	var orElse []clientv3.Op
	if fence != nil {
		// The leader's writes land only while its election key exists at
		// the revision it won with; the Else branch reads the key to tell
		// a lost leadership from a collision with another writer.
		cmps = append(cmps[:len(cmps):len(cmps)], clientv3.Compare(clientv3.CreateRevision(fence.key), "=", fence.rev))
		orElse = append(orElse, clientv3.OpGet(fence.key))
	}
	resp, err := t.s.client.Txn(ctx).If(cmps...).Then(t.ops...).Else(orElse...).Commit()
	if err != nil {
		return false, etcdErr(err)
	}
	if !resp.Succeeded && fence != nil {
		if r := resp.Responses[0].GetResponseRange(); r == nil || len(r.Kvs) == 0 || r.Kvs[0].CreateRevision != fence.rev {
			return false, fence.lost()
		}
	}
	t.revision = resp.Header.Revision
	return resp.Succeeded, nil
}

// update runs fn and commits its writes as one Txn, running fn again on a
// fresh txn whenever another writer changed what it read. fn must set its
// results anew on each run. Writes of instance records (t.instances) are
// applied to the in-memory copy once committed.
func (s *Store) update(fn func(*txn) error) error {
	var audit *cluster.AuditEntry
	var auditKey, auditValue string
	if s.audit.Take() {
		e := s.audit.Entry()
		var err error
		if auditKey, auditValue, err = s.auditRecord(e); err != nil {
			return err
		}
		audit = &e
	}
	deadline := time.Now().Add(s.cfg.Timeout)
	for attempt := 0; ; attempt++ {
		t := s.newTxn()
		err := fn(t)
		if err == nil {
			if audit != nil {
				t.ops = append(t.ops, clientv3.OpPut(auditKey, auditValue))
			}
			var ok bool
			ok, err = t.commit()
			if err == nil && ok {
				if audit != nil {
					s.audit.Committed()
					s.pruneAudit(s.audit, audit.Time, auditKey)
				}
				if len(t.ops) > 0 {
					s.generation.Add(1)
					if len(t.instances) > 0 {
						s.committed(t.revision, t.instances)
					}
					for _, op := range t.ops {
						if s.tableKey(string(op.KeyBytes())) {
							s.tableGen.Add(1)
							break
						}
					}
				}
				return nil
			}
		}
		if err != nil && !isCompacted(err) {
			return s.unavailable(err)
		}
		if time.Now().After(deadline) {
			return cluster.Errorf(cluster.EUNAVAILABLE, "A write to the %s kept colliding with other writers for %s: try again.", s.where(), s.cfg.Timeout)
		}
		// Back off a little, randomly, so colliding writers spread out.
		time.Sleep(time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6))))
	}
}

// view runs fn's reads at one revision.
func (s *Store) view(fn func(*txn) error) error {
	for {
		err := fn(s.newTxn())
		if isCompacted(err) {
			continue
		}
		if err != nil {
			return s.unavailable(err)
		}
		return nil
	}
}
