package db

import (
	"github.com/longshoreman/longshoreman/cluster"
	bolt "go.etcd.io/bbolt"
)

// Retire unroutes instances of app and marks them retiring in one
// transaction, then records the version of the first routing table without
// them, which it returns: they may be stopped once a table of that version
// or newer was published. A crash between the two writes leaves them
// retiring with RetireAfter 0; any table built later is then recent
// enough. Unknown ids are ignored.
func (db *DB) Retire(app string, ids []string) (uint64, error) {
	if err := db.editInstances(app, ids, func(inst *cluster.Instance) {
		inst.Routed, inst.Retiring = false, true
	}); err != nil {
		return 0, err
	}
	table, err := db.RoutingTable()
	if err != nil {
		return 0, err
	}
	return table.Version, db.editInstances(app, ids, func(inst *cluster.Instance) {
		inst.RetireAfter = max(inst.RetireAfter, table.Version)
	})
}

// editInstances applies edit to the records of app's instances named by
// ids, in the cache and the file in one transaction. Unknown ids are
// ignored.
func (db *DB) editInstances(app string, ids []string, edit func(*cluster.Instance)) error {
	set := map[string]bool{}
	for _, id := range ids {
		set[id] = true
	}
	return db.writeInstances(func(insts []cluster.Instance) []cluster.Instance {
		for i := range insts {
			if insts[i].App == app && set[insts[i].ID] {
				edit(&insts[i])
			}
		}
		return insts
	}, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketInstances).Bucket([]byte(app))
		if b == nil {
			return nil
		}
		for _, id := range ids {
			var inst cluster.Instance
			if ok, err := get(b, id, &inst); err != nil {
				return err
			} else if !ok {
				continue
			}
			edit(&inst)
			if err := put(b, id, inst); err != nil {
				return err
			}
		}
		return nil
	})
}
