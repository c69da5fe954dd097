package db

import (
	"encoding/json"

	"github.com/longshoreman/longshoreman/cluster"
	bolt "go.etcd.io/bbolt"
)

// PutInstance stores or replaces an instance record. The app must exist.
func (db *DB) PutInstance(inst cluster.Instance) error {
	return db.writeInstances(func(insts []cluster.Instance) []cluster.Instance {
		for i := range insts {
			if insts[i].ID == inst.ID && insts[i].App == inst.App {
				insts[i] = inst
				return insts
			}
		}
		insts = append(insts, inst)
		cluster.SortInstances(insts)
		return insts
	}, func(tx *bolt.Tx) error {
		if err := requireApp(tx, inst.App); err != nil {
			return err
		}
		b, err := tx.Bucket(bucketInstances).CreateBucketIfNotExists([]byte(inst.App))
		if err != nil {
			return err
		}
		return put(b, inst.ID, inst)
	})
}

// SetRouted marks instances of app as routed or not, in one transaction.
// Unknown ids are ignored.
func (db *DB) SetRouted(app string, ids []string, routed bool) error {
	return db.editInstances(app, ids, func(inst *cluster.Instance) { inst.Routed = routed })
}

// DeleteInstance removes an instance record; an unknown one is no error.
func (db *DB) DeleteInstance(app, id string) error {
	return db.writeInstances(func(insts []cluster.Instance) []cluster.Instance {
		for i := range insts {
			if insts[i].ID == id && insts[i].App == app {
				return append(insts[:i], insts[i+1:]...)
			}
		}
		return insts
	}, func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketInstances).Bucket([]byte(app)); b != nil {
			return b.Delete([]byte(id))
		}
		return nil
	})
}

// Instances returns the app's instances sorted by host and port.
func (db *DB) Instances(app string) ([]cluster.Instance, error) {
	insts := []cluster.Instance{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if err := requireApp(tx, app); err != nil {
			return err
		}
		var err error
		insts, err = appendInstances(insts, tx.Bucket(bucketInstances).Bucket([]byte(app)))
		return err
	})
	cluster.SortInstances(insts)
	return insts, err
}

// AllInstances returns every instance of every app, sorted by app, host
// and port. It is served from a copy kept in memory, read from the file
// once and then kept up to date by the instance writes: the API, the
// reconciler and the routing table read it far more often than it changes,
// and decoding thousands of records each time is what costs.
func (db *DB) AllInstances() ([]cluster.Instance, error) {
	db.cacheMu.Lock()
	defer db.cacheMu.Unlock()
	if !db.cache.valid {
		insts := []cluster.Instance{}
		err := db.bolt.View(func(tx *bolt.Tx) error {
			root := tx.Bucket(bucketInstances)
			return root.ForEachBucket(func(app []byte) error {
				var err error
				insts, err = appendInstances(insts, root.Bucket(app))
				return err
			})
		})
		if err != nil {
			return nil, err
		}
		cluster.SortInstances(insts)
		db.cache.valid, db.cache.instances = true, insts
	}
	return append([]cluster.Instance(nil), db.cache.instances...), nil
}

// writeInstances runs a write transaction on instance records and, once it
// committed, applies the same change to the in-memory copy. Writes and
// copies are serialized by cacheMu, so the copy never misses a write; a
// failed write drops the copy, to be read again from the file.
func (db *DB) writeInstances(apply func([]cluster.Instance) []cluster.Instance, fn func(*bolt.Tx) error) error {
	db.cacheMu.Lock()
	defer db.cacheMu.Unlock()
	defer db.instancesGen.Add(1)
	if err := db.update(fn); err != nil {
		db.cache.valid = false
		return err
	}
	if db.cache.valid {
		db.cache.instances = apply(db.cache.instances)
	}
	return nil
}

// instancesChanged drops the in-memory copy of the instances, for writes
// that change many at once (DeleteApp).
func (db *DB) instancesChanged() {
	db.cacheMu.Lock()
	db.cache.valid = false
	db.cacheMu.Unlock()
	db.instancesGen.Add(1)
}

func appendInstances(insts []cluster.Instance, b *bolt.Bucket) ([]cluster.Instance, error) {
	if b == nil {
		return insts, nil
	}
	err := b.ForEach(func(_, v []byte) error {
		var inst cluster.Instance
		if err := json.Unmarshal(v, &inst); err != nil {
			return err
		}
		insts = append(insts, inst)
		return nil
	})
	return insts, err
}
