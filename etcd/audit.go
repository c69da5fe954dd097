package etcd

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// auditPruneBatch bounds how many entries one append prunes by count, so
// that an append after the keep was lowered reads a bounded page of keys;
// the appends after it prune the rest.
const auditPruneBatch = 1000

// AppendAudit stores e under P/audit/<cluster.AuditKey> and, in the same
// Txn, deletes with one range delete the entries older than maxAge before
// e.Time and the oldest beyond keep (at most auditPruneBatch of them). It
// implements cluster.AuditStore.
//
// The write is not fenced by the leadership: an entry says what was asked
// of a controller, also of one that no longer leads (a refusal, a write
// refused by its fence), and concurrent appends never conflict. The count
// is read just before the Txn, so two controllers appending at once may
// keep one entry more than keep until the next append.
func (s *Store) AppendAudit(e cluster.AuditEntry, keep int, maxAge time.Duration) error {
	key, buf, err := s.auditRecord(e)
	if err != nil {
		return err
	}
	ctx, cancel := s.callContext()
	defer cancel()
	ops := []clientv3.Op{clientv3.OpPut(key, buf)}
	prune, err := s.auditPrune(ctx, keep, maxAge, e.Time, key, 1)
	if err != nil {
		return err
	}
	if _, err := s.client.Txn(ctx).Then(append(ops, prune...)...).Commit(); err != nil {
		return s.unavailable(etcdErr(err))
	}
	s.generation.Add(1)
	return nil
}

// Audited returns a view of s whose first write transaction also stores
// w's entry (the entries beyond the bounds are pruned in a Txn of their
// own after it). It implements cluster.AuditStore.
func (s *Store) Audited(w *cluster.AuditWrite) cluster.Store {
	return &Store{state: s.state, term: s.term, audit: w}
}

// auditRecord returns the key and the value of e.
func (s *Store) auditRecord(e cluster.AuditEntry) (key, value string, err error) {
	buf, err := json.Marshal(e)
	if err != nil {
		return "", "", err
	}
	return s.key(cluster.RecordAudit, cluster.AuditKey(e.Time, rand.Uint64())), string(buf), nil
}

// auditPrune returns the delete, if any is needed, that leaves at most
// keep entries once adding more are stored, and none older than maxAge
// before at; it never reaches key or above.
func (s *Store) auditPrune(ctx context.Context, keep int, maxAge time.Duration, at time.Time, key string, adding int64) ([]clientv3.Op, error) {
	prefix := s.key(cluster.RecordAudit, "")
	end := ""
	if maxAge > 0 {
		end = prefix + cluster.AuditKeyBefore(at.Add(-maxAge))
	}
	if keep > 0 {
		resp, err := s.client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			return nil, s.unavailable(etcdErr(err))
		}
		if excess := resp.Count + adding - int64(keep); excess > 0 {
			resp, err := s.client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly(),
				clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend), clientv3.WithLimit(min(excess, auditPruneBatch)))
			if err != nil {
				return nil, s.unavailable(etcdErr(err))
			}
			if n := len(resp.Kvs); n > 0 {
				end = max(end, string(resp.Kvs[n-1].Key)+"\x00")
			}
		}
	}
	// The new entry stays out of the range, even when entries newer than
	// it were appended first (its time is its request's start).
	end = min(end, key)
	if end <= prefix {
		return nil, nil
	}
	return []clientv3.Op{clientv3.OpDelete(prefix, clientv3.WithRange(end))}, nil
}

// pruneAudit deletes what auditPrune finds beyond the bounds of w, after
// the transaction that stored its entry (at key). A failure is left to
// the next append, which prunes what this one left.
func (s *Store) pruneAudit(w *cluster.AuditWrite, at time.Time, key string) {
	ctx, cancel := s.callContext()
	defer cancel()
	if ops, err := s.auditPrune(ctx, w.Keep, w.MaxAge, at, key, 0); err == nil && len(ops) > 0 {
		_, _ = s.client.Txn(ctx).Then(ops...).Commit()
	}
}

// Audit returns the entries f matches, newest first, read in pages from
// the newest down to f.Since. It implements cluster.AuditStore.
func (s *Store) Audit(f cluster.AuditFilter) ([]cluster.AuditEntry, error) {
	prefix := s.key(cluster.RecordAudit, "")
	from, end := prefix+cluster.AuditKeyBefore(f.Since), clientv3.GetPrefixRangeEnd(prefix)
	entries := []cluster.AuditEntry{}
	for len(entries) < f.Max() {
		ctx, cancel := s.callContext()
		resp, err := s.client.Get(ctx, from, clientv3.WithRange(end), clientv3.WithLimit(500),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
		cancel()
		if err != nil {
			return nil, s.unavailable(etcdErr(err))
		}
		for _, kv := range resp.Kvs {
			var e cluster.AuditEntry
			if err := json.Unmarshal(kv.Value, &e); err != nil {
				return nil, err
			}
			if f.Match(e) && len(entries) < f.Max() {
				entries = append(entries, e)
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		end = string(resp.Kvs[len(resp.Kvs)-1].Key) // exclusive: the next page is below it
	}
	return entries, nil
}
