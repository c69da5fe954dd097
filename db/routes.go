package db

import (
	"bytes"
	"crypto/sha256"
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
	db.routesMu.Lock()
	defer db.routesMu.Unlock()
	gen := db.instancesGen.Load()
	if db.lastRoutes.valid && db.lastRoutes.gen == gen {
		// No instance was written since: same routes, same version.
		table := db.lastRoutes.table
		table.Time = db.now().UTC()
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
		table, changed, encoded = db.routes(tx, insts)
		return nil
	})
	if err != nil {
		return table, err
	}
	if !changed {
		db.remember(gen, table)
		return table, nil
	}
	// Calls are serialized by routesMu, so the stored version cannot have
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
		db.remember(gen, table)
	}
	return table, err
}

// remember keeps the table built for an instances generation; the caller
// holds routesMu.
func (db *DB) remember(gen uint64, table cluster.RoutingTable) {
	db.lastRoutes.valid, db.lastRoutes.gen, db.lastRoutes.table = true, gen, table
}

// routes builds the table from the routed instances of insts (sorted) and
// reports whether its routes differ from the stored ones; Version is the
// stored version, and encoded the SHA-256 of the routes' JSON, which is
// what is stored (the table itself can be hundreds of KB).
func (db *DB) routes(tx *bolt.Tx, insts []cluster.Instance) (cluster.RoutingTable, bool, []byte) {
	table := cluster.RoutingTable{Controller: db.controller, Cluster: db.cluster, Epoch: db.epoch, Time: db.now().UTC(), Routes: map[string][]string{}}
	for _, inst := range insts {
		if inst.Routed {
			table.Routes[inst.App] = append(table.Routes[inst.App], inst.Addr())
		}
	}
	meta := tx.Bucket(bucketMeta)
	table.Version, _ = strconv.ParseUint(string(meta.Get(keyRoutesVersion)), 10, 64)
	buf, _ := json.Marshal(table.Routes)
	sum := sha256.Sum256(buf)
	return table, table.Version == 0 || !bytes.Equal(sum[:], meta.Get(keyRoutes)), sum[:]
}
