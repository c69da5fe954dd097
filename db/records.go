package db

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/longshoreman/longshoreman/cluster"
	bolt "go.etcd.io/bbolt"
)

// Records calls fn with every record of the file in one read transaction.
// It implements cluster.RecordStore.
func (db *DB) Records(fn func(cluster.Record) error) error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		for _, kind := range []string{cluster.RecordMeta, cluster.RecordApp, cluster.RecordHost, cluster.RecordRegistry, cluster.RecordCert, cluster.RecordToken, cluster.RecordAudit} {
			b := tx.Bucket([]byte(kind))
			if b == nil {
				continue
			}
			if err := b.ForEach(func(k, v []byte) error {
				return fn(cluster.Record{Kind: kind, Key: string(k), Value: append([]byte(nil), v...)})
			}); err != nil {
				return err
			}
		}
		for _, kind := range []string{cluster.RecordRevision, cluster.RecordInstance, cluster.RecordTask, cluster.RecordJob} {
			root := tx.Bucket([]byte(kind))
			if root == nil {
				continue // tasks or jobs, in a file of an earlier release opened read-only
			}
			if err := root.ForEachBucket(func(app []byte) error {
				return root.Bucket(app).ForEach(func(k, v []byte) error {
					key := string(k)
					if kind == cluster.RecordRevision {
						key = strconv.FormatUint(binary.BigEndian.Uint64(k), 10)
					}
					return fn(cluster.Record{Kind: kind, Scope: string(app), Key: key, Value: append([]byte(nil), v...)})
				})
			}); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutRecords stores records as they are, in one transaction. It implements
// cluster.RecordStore; the caller reopens the file to have ids and epoch
// read from the new meta.
func (db *DB) PutRecords(recs []cluster.Record) error {
	defer db.instancesChanged()
	defer db.forgetRoutes()
	defer db.tableChanged()
	return db.update(func(tx *bolt.Tx) error {
		db.auditN.Store(-1) // the records may hold entries
		return putRecords(tx, recs)
	})
}

func putRecords(tx *bolt.Tx, recs []cluster.Record) error {
	for _, r := range recs {
		b, err := tx.CreateBucketIfNotExists([]byte(r.Kind))
		if err != nil {
			return err
		}
		key := []byte(r.Key)
		switch r.Kind {
		case cluster.RecordRevision, cluster.RecordInstance, cluster.RecordTask, cluster.RecordJob:
			if b, err = b.CreateBucketIfNotExists([]byte(r.Scope)); err != nil {
				return err
			}
			if r.Kind == cluster.RecordRevision {
				n, err := strconv.Atoi(r.Key)
				if err != nil || n < 1 {
					return fmt.Errorf("revision record %s/%q: the key is not a revision number", r.Scope, r.Key)
				}
				key = revKey(n)
			}
		case cluster.RecordMeta, cluster.RecordApp, cluster.RecordHost, cluster.RecordRegistry, cluster.RecordCert, cluster.RecordToken, cluster.RecordAudit:
		default:
			return fmt.Errorf("record of unknown kind %q", r.Kind)
		}
		if r.Value == nil {
			err = b.Delete(key)
		} else {
			err = b.Put(key, r.Value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// forgetRoutes drops the remembered routing table, for writes that may
// change the stored version.
func (db *DB) forgetRoutes() { db.routes.Forget() }

// WriteRecords writes a data file holding the records read by records to w:
// how a store that is not a file answers a backup. The file is built in a
// temporary directory (in dir; when dir is empty the system's, or the
// working directory where there is none, as in a FROM scratch image) and
// removed after.
func WriteRecords(w io.Writer, dir string, records func(func(cluster.Record) error) error) (int64, error) {
	tmp, err := os.MkdirTemp(dir, "longshoreman-backup-*")
	if err != nil && dir == "" {
		tmp, err = os.MkdirTemp(".", ".longshoreman-backup-*")
	}
	if err != nil {
		return 0, fmt.Errorf("creating a temporary directory for the backup: %w", err)
	}
	defer os.RemoveAll(tmp)
	b, err := bolt.Open(filepath.Join(tmp, "backup.db"), 0o600, nil)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	err = b.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketApps, bucketHosts, bucketRevisions, bucketInstances, bucketCerts, bucketTasks, bucketJobs, bucketAudit} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		var batch []cluster.Record
		if err := records(func(r cluster.Record) error {
			batch = append(batch, r)
			if len(batch) < 1024 {
				return nil
			}
			err := putRecords(tx, batch)
			batch = batch[:0]
			return err
		}); err != nil {
			return err
		}
		return putRecords(tx, batch)
	})
	if err != nil {
		return 0, fmt.Errorf("building the backup data file: %w", err)
	}
	var n int64
	err = b.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

var _ cluster.Store = (*DB)(nil)
