package db

import (
	"encoding/json"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	bolt "go.etcd.io/bbolt"
)

// bucketAudit holds the audit log: cluster.AuditKey -> cluster.AuditEntry
// JSON, so that a cursor walks it in time order. A file of an earlier
// release has none until it is opened for writing; reads treat it as empty.
var bucketAudit = []byte(cluster.RecordAudit)

// AppendAudit stores e and, in the same transaction, deletes the oldest
// entries beyond keep and those older than maxAge before e.Time. It
// implements cluster.AuditStore.
func (db *DB) AppendAudit(e cluster.AuditEntry, keep int, maxAge time.Duration) error {
	buf, err := json.Marshal(e)
	if err != nil {
		return err
	}
	db.auditMu.Lock()
	defer db.auditMu.Unlock()
	var n int
	err = db.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketAudit)
		if err != nil {
			return err
		}
		n = db.auditN
		if n < 0 { // counted once, then kept with every append
			n = b.Stats().KeyN
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if err := b.Put([]byte(cluster.AuditKey(e.Time, seq)), buf); err != nil {
			return err
		}
		n++
		var before []byte
		if maxAge > 0 {
			before = []byte(cluster.AuditKeyBefore(e.Time.Add(-maxAge)))
		}
		for n > 0 {
			k, _ := b.Cursor().First()
			if k == nil || !(keep > 0 && n > keep || before != nil && string(k) < string(before)) {
				break
			}
			if err := b.Delete(k); err != nil {
				return err
			}
			n--
		}
		return nil
	})
	db.auditN = -1
	if err == nil {
		db.auditN = n
	}
	return err
}

// Audit returns the entries f matches, newest first. It implements
// cluster.AuditStore.
func (db *DB) Audit(f cluster.AuditFilter) ([]cluster.AuditEntry, error) {
	entries := []cluster.AuditEntry{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		if b == nil {
			return nil
		}
		since := cluster.AuditKeyBefore(f.Since)
		c := b.Cursor()
		for k, v := c.Last(); k != nil && string(k) >= since && len(entries) < f.Max(); k, v = c.Prev() {
			var e cluster.AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			if f.Match(e) {
				entries = append(entries, e)
			}
		}
		return nil
	})
	return entries, err
}
