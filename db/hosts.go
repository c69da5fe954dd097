package db

import (
	"github.com/longshoreman/longshoreman/cluster"
	bolt "go.etcd.io/bbolt"
)

// Hosts returns every host, sorted by address bytes.
func (db *DB) Hosts() ([]cluster.Host, error) {
	hosts := []cluster.Host{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHosts)
		return b.ForEach(func(k, _ []byte) error {
			var h cluster.Host
			if _, err := get(b, string(k), &h); err != nil {
				return err
			}
			hosts = append(hosts, h)
			return nil
		})
	})
	return hosts, err
}

// AddHost records a host. Adding a known one is not an error; created
// reports whether it was new. addr must be canonical (cluster.ValidateHost).
func (db *DB) AddHost(addr string) (created bool, err error) {
	err = db.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHosts)
		if b.Get([]byte(addr)) != nil {
			return nil
		}
		created = true
		return put(b, addr, cluster.Host{Addr: addr, Added: db.now().UTC()})
	})
	return created, err
}

// HasHost reports whether addr is a known host.
func (db *DB) HasHost(addr string) (bool, error) {
	var ok bool
	err := db.bolt.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketHosts).Get([]byte(addr)) != nil
		return nil
	})
	return ok, err
}

// SetDraining marks a host as draining (it takes no new instances) or not;
// ENOTFOUND when it is unknown.
func (db *DB) SetDraining(addr string, draining bool) error {
	return db.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHosts)
		var h cluster.Host
		if ok, err := get(b, addr, &h); err != nil {
			return err
		} else if !ok {
			return errUnknownHost(addr)
		}
		h.Draining = draining
		return put(b, addr, h)
	})
}

// RemoveHost forgets a host; ENOTFOUND when it is unknown. It does not look
// at instances: draining them first is the scheduler's job.
func (db *DB) RemoveHost(addr string) error {
	return db.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHosts)
		if b.Get([]byte(addr)) == nil {
			return errUnknownHost(addr)
		}
		return b.Delete([]byte(addr))
	})
}

func errUnknownHost(addr string) error {
	return cluster.Errorf(cluster.ENOTFOUND, "Host %s is not in the cluster", addr).WithFix("list the hosts with", cluster.OpHosts)
}
