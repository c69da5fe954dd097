package db

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/longshoreman/longshoreman/cluster"
	bolt "go.etcd.io/bbolt"
)

// RoutingTable returns the table of routed instances. When the routes
// differ from those of the previous call, the version is raised and stored
// with them in one transaction, so it rises with every change and survives
// restarts; Epoch is the one raised when the file was opened, and Cluster
// the file's cluster id. It implements pubsub.TableSource.
func (db *DB) RoutingTable() (cluster.RoutingTable, error) {
	db.routes.Lock()
	defer db.routes.Unlock()
	gen := [2]uint64{db.instancesGen.Load(), db.tableGen.Load()}
	if table, ok := db.routes.Get(gen, db.now()); ok {
		// Nothing the table shows was written since: same table, same version.
		return table, nil
	}
	insts, err := db.AllInstances()
	if err != nil {
		return cluster.RoutingTable{}, err
	}
	var table cluster.RoutingTable
	var changed bool
	var encoded []byte
	err = db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		table, changed, encoded, err = db.buildRoutes(tx, insts)
		return err
	})
	if err != nil {
		return table, err
	}
	if !changed {
		db.routes.Put(gen, table)
		return table, nil
	}
	// Calls are serialized by the cache's lock, so the stored version cannot have
	// moved since the read; instances changed meanwhile raise it again on
	// the next call.
	table.Version++
	err = db.update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keyRoutes, encoded); err != nil {
			return err
		}
		return meta.Put(keyRoutesVersion, []byte(strconv.FormatUint(table.Version, 10)))
	})
	if err == nil {
		db.routes.Put(gen, table)
	}
	return table, err
}

// buildRoutes builds the table from the routed instances of insts (sorted), the
// apps served over HTTPS, the pending challenges and the certificates'
// version, and reports whether it differs from the stored one; Version is
// the stored version, and encoded the SHA-256 of the table's JSON, which is
// what is stored (the table itself can be hundreds of KB).
func (db *DB) buildRoutes(tx *bolt.Tx, insts []cluster.Instance) (cluster.RoutingTable, bool, []byte, error) {
	table := cluster.RoutingTable{Controller: db.controller, Cluster: db.cluster, Epoch: db.epoch, Time: db.now().UTC(), Routes: map[string][]string{}}
	for _, inst := range insts {
		if inst.Routed {
			table.Routes[inst.App] = append(table.Routes[inst.App], inst.Addr())
		}
	}
	meta := tx.Bucket(bucketMeta)
	err := tx.Bucket(bucketApps).ForEach(func(_, v []byte) error {
		var app cluster.App
		if err := json.Unmarshal(v, &app); err != nil {
			return err
		}
		cluster.AddApp(&table, &app, insts)
		return nil
	})
	if err != nil {
		return table, false, nil, err
	}
	if err := getMetaJSON(tx, keyChallenges, &table.Challenges); err != nil {
		return table, false, nil, err
	}
	table.Certs, _ = strconv.ParseUint(string(meta.Get(keyCertsVersion)), 10, 64)
	table.Version, _ = strconv.ParseUint(string(meta.Get(keyRoutesVersion)), 10, 64)
	sum := cluster.TableSum(table)
	return table, table.Version == 0 || !bytes.Equal(sum, meta.Get(keyRoutes)), sum, nil
}
