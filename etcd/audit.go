package etcd

import (
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
	buf, err := json.Marshal(e)
	if err != nil {
		return err
	}
	prefix := s.key(cluster.RecordAudit, "")
	key := prefix + cluster.AuditKey(e.Time, rand.Uint64())
	end := ""
	if maxAge > 0 {
		end = prefix + cluster.AuditKeyBefore(e.Time.Add(-maxAge))
	}
	ctx, cancel := s.callContext()
	defer cancel()
	if keep > 0 {
		resp, err := s.client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			return s.unavailable(etcdErr(err))
		}
		if excess := resp.Count + 1 - int64(keep); excess > 0 {
			resp, err := s.client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly(),
				clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend), clientv3.WithLimit(min(excess, auditPruneBatch)))
			if err != nil {
				return s.unavailable(etcdErr(err))
			}
			if n := len(resp.Kvs); n > 0 {
				end = max(end, string(resp.Kvs[n-1].Key)+"\x00")
			}
		}
	}
	// The new entry stays out of the range, even when entries newer than
	// it were appended first (its time is its request's start).
	end = min(end, key)
	ops := []clientv3.Op{clientv3.OpPut(key, string(buf))}
	if end > prefix {
		ops = append(ops, clientv3.OpDelete(prefix, clientv3.WithRange(end)))
	}
	if _, err := s.client.Txn(ctx).Then(ops...).Commit(); err != nil {
		return s.unavailable(etcdErr(err))
	}
	s.generation.Add(1)
	return nil
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
