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
	err := db.update(func(tx *bolt.Tx) error { return db.putAudit(tx, e, keep, maxAge) })
	if err != nil {
		db.auditN.Store(-1) // the transaction's count did not land
	}
	return err
}

// Audited returns a view of db whose first write transaction also stores
// w's entry. It implements cluster.AuditStore.
func (db *DB) Audited(w *cluster.AuditWrite) cluster.Store {
	return &DB{open: db.open, audit: w}
}

// putAudit stores e in tx and prunes the entries beyond keep and older
// than maxAge before e.Time, keeping the count in auditN.
func (db *DB) putAudit(tx *bolt.Tx, e cluster.AuditEntry, keep int, maxAge time.Duration) error {
	buf, err := json.Marshal(e)
	if err != nil {
		return err
	}
	b, err := tx.CreateBucketIfNotExists(bucketAudit)
	if err != nil {
		return err
	}
	n := int(db.auditN.Load())
	if n < 0 { // counted once, then kept with every append
		n = b.Stats().KeyN
	}
	db.auditN.Store(-1) // until this transaction is done with it
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
	db.auditN.Store(int64(n))
	return nil
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
