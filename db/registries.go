package db

import (
	"github.com/longshoreman/longshoreman/cluster"
	bolt "go.etcd.io/bbolt"
)

var bucketRegistries = []byte("registries")

// PutRegistry stores or replaces the credentials of one registry, its
// password sealed. r.Address must be normalized (cluster.ValidateRegistry).
func (db *DB) PutRegistry(r cluster.Registry) error {
	buf, err := db.keyring.EncodeRegistry(r)
	if err != nil {
		return err
	}
	return db.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketRegistries)
		if err != nil {
			return err
		}
		return b.Put([]byte(r.Address), buf)
	})
}

// DeleteRegistry forgets a registry's credentials; ENOTFOUND when none.
func (db *DB) DeleteRegistry(addr string) error {
	return db.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRegistries)
		if b == nil || b.Get([]byte(addr)) == nil {
			return cluster.Errorf(cluster.ENOTFOUND, "No credentials are stored for registry %s", addr).WithFix("list the registries that have some with", cluster.OpRegistries)
		}
		return b.Delete([]byte(addr))
	})
}

// Registries returns the addresses of the registries with credentials,
// sorted; never the credentials.
func (db *DB) Registries() ([]string, error) {
	addrs := []string{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRegistries)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			addrs = append(addrs, string(k))
			return nil
		})
	})
	return addrs, err
}

// RegistryAuth returns the credentials stored for a registry.
func (db *DB) RegistryAuth(addr string) (username, password string, ok bool) {
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRegistries)
		if b == nil {
			return nil
		}
		if buf := b.Get([]byte(addr)); buf != nil {
			if r, err := db.keyring.DecodeRegistry(buf); err == nil {
				username, password, ok = r.Username, r.Password, true
			}
		}
		return nil
	})
	return username, password, ok
}
