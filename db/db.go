// Package db is Longshoreman's store: every piece of cluster state (apps,
// hosts, envs, revisions, instances, and meta such as the schema version, the
// API token, the controller id and the routing-table version) lives in one
// bbolt file. It is the only package that imports bbolt. Every exported
// method runs in its own transaction, so each API write is one transaction,
// and a DB is safe for concurrent use.
package db

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the layout this code reads and writes. A file with a
// higher version was written by a newer controller and is refused.
const SchemaVersion = 1

var (
	bucketMeta      = []byte("meta")
	bucketApps      = []byte("apps")
	bucketHosts     = []byte("hosts")
	bucketRevisions = []byte("revisions") // one nested bucket per app, keyed by big-endian revision number
	bucketInstances = []byte("instances") // one nested bucket per app, keyed by container id

	keySchema        = []byte("schema")
	keyToken         = []byte("token")
	keyController    = []byte("controller")
	keyRoutesVersion = []byte("routes_version")
	keyRoutes        = []byte("routes_sha256")
)

// DB is an open data file.
type DB struct {
	routesMu   sync.Mutex // serializes RoutingTable, so versions rise one change at a time; guards lastRoutes
	lastRoutes struct {
		valid bool
		gen   uint64 // instancesGen the table was built at
		table cluster.RoutingTable
	}
	bolt       *bolt.DB
	path       string
	controller string
	now        func() time.Time

	generation   atomic.Uint64 // raised by every write transaction
	history      atomic.Int64  // revisions kept per app; see SetHistory
	instancesGen atomic.Uint64 // raised by every write to an instance record
	cacheMu      sync.Mutex    // guards cache and serializes instance writes with it
	cache        struct {
		valid     bool
		instances []cluster.Instance // every instance, sorted as AllInstances returns them
	}
}

// Options tune Open.
type Options struct {
	// Timeout bounds the wait for the file lock held by another process.
	// Zero means one second.
	Timeout time.Duration
	// ReadOnly opens the file without taking the write lock (for `token`).
	ReadOnly bool
}

// Open opens or creates the data file at path, migrating or refusing its
// schema, and generates the controller id on first use. A file locked by
// another controller fails after opts.Timeout with a message saying so.
func Open(path string, opts Options) (*DB, error) {
	if opts.Timeout == 0 {
		opts.Timeout = time.Second
	}
	if opts.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, cluster.Errorf(cluster.EINVALID, "Data file %s cannot be read (%v): give the path of the controller's data file with --db.", path, err)
		}
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, ReadOnly: opts.ReadOnly})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, cluster.Errorf(cluster.ECONFLICT, "Data file %s is in use by another process (probably a running controller): stop it, or give another file with --db.", path)
	} else if err != nil {
		return nil, cluster.Errorf(cluster.EINVALID, "Data file %s cannot be opened (%v): check the path and its permissions, or restore it from a backup.", path, err)
	}
	db := &DB{bolt: b, path: path, now: time.Now}
	if opts.ReadOnly {
		err = b.View(db.checkSchema)
	} else {
		err = b.Update(db.init)
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) checkSchema(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return cluster.Errorf(cluster.EINVALID, "Data file %s is not a Longshoreman data file (no meta bucket).", db.path)
	}
	v, _ := strconv.Atoi(string(meta.Get(keySchema)))
	if v > SchemaVersion {
		return cluster.Errorf(cluster.EINVALID, "Data file %s has schema version %d, newer than this controller's %d: run a newer longshoreman, or restore a backup taken before the upgrade.", db.path, v, SchemaVersion)
	}
	db.controller = string(meta.Get(keyController))
	return nil
}

// init creates the buckets and meta of a new file and checks an old one.
func (db *DB) init(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketMeta, bucketApps, bucketHosts, bucketRevisions, bucketInstances} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	if meta.Get(keySchema) == nil {
		if err := meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion))); err != nil {
			return err
		}
	}
	if err := db.checkSchema(tx); err != nil {
		return err
	}
	// Migrations from older schema versions go here, each in this
	// transaction, before the version is raised.
	if db.controller == "" {
		db.controller = randomHex(8)
		return meta.Put(keyController, []byte(db.controller))
	}
	return nil
}

// update runs fn in a write transaction and raises the generation.
func (db *DB) update(fn func(*bolt.Tx) error) error {
	defer db.generation.Add(1)
	return db.bolt.Update(fn)
}

// Generation returns a number that rises with every write, so that readers
// can cache what they derive from the data file: equal generations mean
// nothing was written in between.
func (db *DB) Generation() uint64 { return db.generation.Load() }

// Close closes the file. It waits for running transactions.
func (db *DB) Close() error { return db.bolt.Close() }

// Path returns the file's path.
func (db *DB) Path() string { return db.path }

// ControllerID returns this data file's controller id: the value of the
// longshoreman.controller label on its containers and of the routing table's
// controller field.
func (db *DB) ControllerID() string { return db.controller }

// EnsureToken returns the stored API token, generating and storing one when
// there is none; created reports that it did.
func (db *DB) EnsureToken() (token string, created bool, err error) {
	err = db.update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if t := meta.Get(keyToken); t != nil {
			token = string(t)
			return nil
		}
		token, created = randomHex(24), true
		return meta.Put(keyToken, []byte(token))
	})
	return token, created, err
}

// Token returns the stored API token, or "" when none was generated.
func (db *DB) Token() (string, error) {
	var token string
	err := db.bolt.View(func(tx *bolt.Tx) error {
		token = string(tx.Bucket(bucketMeta).Get(keyToken))
		return nil
	})
	return token, err
}

// Check reports whether the file is usable: a read transaction succeeds.
func (db *DB) Check() error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			return fmt.Errorf("meta bucket missing")
		}
		return nil
	})
}

// Size returns the data file's size in bytes.
func (db *DB) Size() int64 {
	var n int64
	_ = db.bolt.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil })
	return n
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

func put(b *bolt.Bucket, key string, v any) error {
	buf, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), buf)
}

func get(b *bolt.Bucket, key string, v any) (bool, error) {
	buf := b.Get([]byte(key))
	if buf == nil {
		return false, nil
	}
	return true, json.Unmarshal(buf, v)
}
