package db

import (
	bolt "go.etcd.io/bbolt"
)

// SetMetaForTest writes (or, with value nil, deletes) a meta key of a
// closed data file, to make files as older releases or other clocks left
// them.
func SetMetaForTest(path, key string, value []byte) error {
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return err
	}
	defer b.Close()
	return b.Update(func(tx *bolt.Tx) error {
		if value == nil {
			return tx.Bucket(bucketMeta).Delete([]byte(key))
		}
		return tx.Bucket(bucketMeta).Put([]byte(key), value)
	})
}
