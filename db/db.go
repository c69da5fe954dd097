// Package db is Longshoreman's store: every piece of cluster state (apps,
// hosts, envs, revisions, instances, and meta such as the schema version, the
// API token, the controller id, the cluster id, the routing-table epoch and
// version, and the routing-table signing key; certificates with their keys,
// the ACME accounts, pending challenges and the router token; the scoped API
// tokens' hashes) lives in one
// bbolt file. It is the only package that imports bbolt. Every exported
// method runs in its own transaction, so each API write is one transaction,
// and a DB is safe for concurrent use.
package db

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"runtime/debug"
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
	// bucketTasks (tasks.go): one nested bucket per app, keyed by task id
	// bucketJobs (jobs.go): one nested bucket per app, keyed by job name

	keySchema        = []byte("schema")
	keyController    = []byte("controller")
	keyRoutesVersion = []byte("routes_version")
	keyRoutes        = []byte("routes_sha256")
	keyCluster       = []byte("cluster")    // made when the file is created; a restore or a migration keeps it
	keyEpoch         = []byte("epoch")      // raised at every open for writing: max(clock ns, stored+1)
	keyRoutesKey     = []byte("routes_key") // signs routing tables when LONGSHOREMAN_ROUTES_KEY is unset
	keyRouterToken   = []byte("router_token")
	keyACMEAccounts  = []byte("acme_accounts")   // JSON: directory URL -> cluster.ACMEAccount
	keyChallenges    = []byte("acme_challenges") // JSON: token -> key authorization
	keyCertsVersion  = []byte("certs_version")   // raised by every change of a chain or key
	bucketCerts      = []byte("certs")           // cluster.Cert JSON by domain
)

// DB is an open data file, or a view of one (see Audited): views share
// the open file and differ in what their writes carry.
type DB struct {
	*open
	// audit is the entry the view's first write transaction stores with
	// its change; nil for the DB Open returns.
	audit *cluster.AuditWrite
}

// open is an open data file, shared by a DB and its views.
type open struct {
	routes     cluster.TableCache // of RoutingTable, by instancesGen and tableGen
	bolt       *bolt.DB
	path       string
	controller string
	cluster    string // set at open, never changed
	epoch      uint64 // set at open, never changed
	created    bool   // Open created the file
	now        func() time.Time
	// migrateTarget accepts a half-written migrate target (set at open).
	migrateTarget bool
	// keyring seals and opens the env values (set at open; nil for a
	// migrate target, which copies records as they are, and for a
	// read-only open without the key).
	keyring *cluster.Keyring
	envKey  cluster.EnvKeyInfo

	generation   atomic.Uint64 // raised by every write transaction
	history      atomic.Int64  // revisions kept per app; see SetHistory
	instancesGen atomic.Uint64 // raised by every write to an instance record
	tableGen     atomic.Uint64 // raised by every other write the routing table shows: apps, certs, challenges
	cacheMu      sync.Mutex    // guards cache and serializes instance writes with it
	// auditN is the number of audit entries, so that pruning by count
	// does not walk the bucket at every append; -1 until counted, and
	// again after PutRecords, which may write entries. Only write
	// transactions, which run one at a time, read and set it.
	auditN atomic.Int64
	cache  struct {
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
	// Create creates the file, with a new cluster id, when it does not
	// exist. Without it a missing file is an ENOTFOUND error: a typo or an
	// unmounted volume must not start an empty cluster.
	Create bool
	// MigrateTarget opens the file as the target of `migrate`, which
	// accepts a half-written copy (holding cluster.MetaMigrating) in order
	// to complete it. Every other open refuses such a file.
	MigrateTarget bool
	// SecretsKey is the comma list of keys the env values are sealed with
	// (LONGSHOREMAN_SECRETS_KEY; the first seals). Empty: the key in
	// KeyFile(path), generated there at the first open for writing of a
	// file whose values were never sealed. A file whose check the keys do
	// not open is refused (see openSecrets).
	SecretsKey string
}

// Open opens the data file at path (creating it only with opts.Create),
// checks its consistency, migrates or refuses its schema, generates the
// controller and cluster ids on first use, and, unless read-only, raises the
// routing-table epoch. A missing file without opts.Create, an empty file, and
// a damaged or truncated file are refused with a message saying what to do.
// A file locked by another controller fails after opts.Timeout with a message
// saying so.
func Open(path string, opts Options) (*DB, error) {
	if opts.Timeout == 0 {
		opts.Timeout = time.Second
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && opts.ReadOnly:
		return nil, cluster.Errorf(cluster.ENOTFOUND, "Data file %s does not exist: give the path of the controller's data file with --db.", path)
	case errors.Is(err, fs.ErrNotExist) && !opts.Create:
		return nil, cluster.Errorf(cluster.ENOTFOUND, "Data file %s does not exist: check the path (LONGSHOREMAN_DB or --db) for a typo and that its volume is mounted. To create a new, empty cluster there, start once with `longshoreman serve --init` (or LONGSHOREMAN_INIT=1).", path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, cluster.Errorf(cluster.EINVALID, "Data file %s cannot be read (%v): check the path and its permissions.", path, err)
	case err == nil && fi.Size() == 0:
		return nil, cluster.Errorf(cluster.EINVALID, "Data file %s is empty (0 bytes), probably an unfinished copy: restore a backup over it (see the README, Operations), or remove it and start with --init to create a new cluster.", path)
	}
	if fi != nil {
		if err := checkLength(path, fi.Size()); err != nil {
			return nil, damaged(path, err)
		}
	}
	b, err := openBolt(path, &bolt.Options{Timeout: opts.Timeout, ReadOnly: opts.ReadOnly})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, cluster.Errorf(cluster.ECONFLICT, "Data file %s is in use by another process (probably a running controller): stop it, or give another file with --db.", path)
	} else if errors.Is(err, fs.ErrPermission) {
		return nil, cluster.Errorf(cluster.EINVALID, "Data file %s cannot be opened (%v): check its permissions.", path, err)
	} else if err != nil {
		return nil, damaged(path, err)
	}
	if err := verify(b, path); err != nil {
		b.Close()
		return nil, damaged(path, err)
	}
	db := &DB{open: &open{bolt: b, path: path, now: time.Now, created: fi == nil, migrateTarget: opts.MigrateTarget}}
	db.auditN.Store(-1)
	if opts.ReadOnly {
		err = b.View(db.checkSchema)
	} else {
		err = b.Update(db.init)
	}
	if err == nil && !opts.MigrateTarget {
		err = db.openSecrets(opts.SecretsKey, opts.ReadOnly)
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	return db, nil
}

func damaged(path string, err error) error {
	return cluster.Errorf(cluster.EINVALID, "Data file %s is damaged or not a Longshoreman data file (%v): restore it from a backup (see the README, Operations: restore).", path, err)
}

// openBolt opens the file, turning a fault or panic on a damaged file (bbolt
// reads its meta and freelist pages through mmap) into an error.
func openBolt(path string, opts *bolt.Options) (b *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("%v", r)
		}
	}()
	return bolt.Open(path, 0o600, opts)
}

// checkLength refuses a file shorter than its newest valid meta page says:
// bbolt would fault reading the missing pages, and a fault inside bolt.Open
// leaves the file locked until the process exits. It reads bbolt's meta
// layout (little-endian hosts; elsewhere no meta matches and it checks
// nothing); files it cannot make sense of are left to bolt.Open.
func checkLength(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	const (
		magic      = 0xED0CDAED
		headerSize = 16 // page header before the meta
		metaSize   = 64
	)
	var best struct {
		txid, pages, pageSize uint64
		ok                    bool
	}
	pageSize := int64(0)
	for i := range 2 {
		buf := make([]byte, headerSize+metaSize)
		if _, err := f.ReadAt(buf, int64(i)*pageSize); err != nil {
			return nil
		}
		m := buf[headerSize:]
		if i == 0 {
			pageSize = int64(binary.LittleEndian.Uint32(m[8:12]))
			if pageSize < 1024 {
				pageSize = int64(os.Getpagesize())
			}
		}
		h := fnv.New64a()
		h.Write(m[:56])
		if binary.LittleEndian.Uint32(m[0:4]) != magic || h.Sum64() != binary.LittleEndian.Uint64(m[56:64]) {
			continue
		}
		txid := binary.LittleEndian.Uint64(m[48:56])
		if !best.ok || txid > best.txid {
			best.txid, best.pages, best.pageSize, best.ok = txid, binary.LittleEndian.Uint64(m[40:48]), uint64(binary.LittleEndian.Uint32(m[8:12])), true
		}
	}
	if best.ok && best.pages*best.pageSize > uint64(size) {
		return fmt.Errorf("it is %d bytes but its pages need %d: it was truncated", size, best.pages*best.pageSize)
	}
	return nil
}

// verify checks that every page the file refers to is inside the file, that
// every bucket and key can be read, and bbolt's own consistency check, so a
// truncated or corrupted file fails here rather than with a panic later.
func verify(b *bolt.DB, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return b.View(func(tx *bolt.Tx) (err error) {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("reading it failed: %v", r)
			}
		}()
		if tx.Size() > fi.Size() {
			return fmt.Errorf("it is %d bytes but its pages need %d: it was truncated", fi.Size(), tx.Size())
		}
		if err := tx.ForEach(func(_ []byte, bk *bolt.Bucket) error { return walk(bk) }); err != nil {
			return err
		}
		var errs []error
		for err := range tx.Check() { // drain: Check's goroutine sends every error
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return fmt.Errorf("consistency check: %w", errs[0])
		}
		return nil
	})
}

// walk reads every key of bk and of its nested buckets.
func walk(bk *bolt.Bucket) error {
	return bk.ForEach(func(k, v []byte) error {
		if v == nil {
			if nested := bk.Bucket(k); nested != nil {
				return walk(nested)
			}
		}
		return nil
	})
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
	if begun := meta.Get([]byte(cluster.MetaMigrating)); begun != nil && !db.migrateTarget {
		return cluster.UnfinishedMigration("data file "+db.path, string(begun))
	}
	db.controller = string(meta.Get(keyController))
	db.cluster = string(meta.Get(keyCluster))
	db.epoch, _ = strconv.ParseUint(string(meta.Get(keyEpoch)), 10, 64)
	return nil
}

// init creates the buckets and meta of a new file and checks an old one.
func (db *DB) init(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketMeta, bucketApps, bucketHosts, bucketRevisions, bucketInstances, bucketCerts, bucketTasks, bucketJobs, bucketAudit} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	fresh := meta.Get(keySchema) == nil
	if fresh {
		if err := meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion))); err != nil {
			return err
		}
	}
	if err := db.checkSchema(tx); err != nil {
		return err
	}
	if meta.Get([]byte(cluster.MetaKeysOmitted)) != nil {
		return cluster.KeysOmitted("data file " + db.path)
	}
	// Migrations from older schema versions go here, each in this
	// transaction, before the version is raised.
	if db.controller == "" {
		db.controller = randomHex(8)
		if err := meta.Put(keyController, []byte(db.controller)); err != nil {
			return err
		}
	}
	if db.cluster == "" {
		// A file of an older release has no cluster id: its controller id
		// becomes one, so routers that followed that controller stay.
		db.cluster = db.controller
		if fresh {
			db.cluster = randomHex(16)
		}
		if err := meta.Put(keyCluster, []byte(db.cluster)); err != nil {
			return err
		}
	}
	// Every start publishes above anything published before, even from a
	// restored (older) copy of this file: routers order by (epoch, version).
	db.epoch = max(uint64(db.now().UnixNano()), db.epoch+1)
	return meta.Put(keyEpoch, []byte(strconv.FormatUint(db.epoch, 10)))
}

// update runs fn in a write transaction and raises the generation.
func (db *DB) update(fn func(*bolt.Tx) error) error {
	defer db.generation.Add(1)
	if !db.audit.Take() {
		return db.bolt.Update(fn)
	}
	w := db.audit
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return db.putAudit(tx, w.Entry(), w.Keep, w.MaxAge)
	})
	if err != nil {
		db.auditN.Store(-1) // the transaction's count did not land
		return err
	}
	w.Committed()
	return nil
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

// ClusterID returns the data file's cluster id, made when the file was
// created and kept by restores and migrations. Routers stay with one cluster.
func (db *DB) ClusterID() string { return db.cluster }

// Epoch returns the routing-table epoch this open raised (the stored one for
// a read-only open).
func (db *DB) Epoch() uint64 { return db.epoch }

// Created reports whether Open created the file.
func (db *DB) Created() bool { return db.created }

// EnsureRoutesKey returns the stored routing-table signing key, generating
// and storing one when there is none; created reports that it did.
func (db *DB) EnsureRoutesKey() (key string, created bool, err error) {
	err = db.update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if k := meta.Get(keyRoutesKey); k != nil {
			key = string(k)
			return nil
		}
		key, created = randomHex(32), true
		return meta.Put(keyRoutesKey, []byte(key))
	})
	return key, created, err
}

// RoutesKey returns the stored routing-table signing key, or "" when none
// was generated.
func (db *DB) RoutesKey() (string, error) {
	var key string
	err := db.bolt.View(func(tx *bolt.Tx) error {
		key = string(tx.Bucket(bucketMeta).Get(keyRoutesKey))
		return nil
	})
	return key, err
}

// EnsureToken returns the stored API token, generating and storing one
// (sealed) when there is none; created reports that it did.
func (db *DB) EnsureToken() (token string, created bool, err error) {
	err = db.update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if token, err = db.readToken(meta); err != nil || token != "" {
			return err
		}
		fresh := randomHex(24)
		sealed, err := db.keyring.SealToken(fresh)
		if err != nil {
			return err
		}
		token, created = fresh, true
		return meta.Put([]byte(cluster.MetaTokenSealed), sealed)
	})
	return token, created, err
}

// Token returns the stored API token, or "" when none was generated. A
// file opened without the key of its secrets gives a *cluster.KeyMissingError.
func (db *DB) Token() (string, error) {
	var token string
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		token, err = db.readToken(tx.Bucket(bucketMeta))
		return err
	})
	return token, err
}

// readToken reads the token: the plaintext one of a release before
// encryption when there still is one (a read-only open does not seal it),
// else the sealed one.
func (db *DB) readToken(meta *bolt.Bucket) (string, error) {
	if t := meta.Get([]byte(cluster.MetaToken)); t != nil {
		return string(t), nil
	}
	if t := meta.Get([]byte(cluster.MetaTokenSealed)); t != nil {
		return db.keyring.OpenToken(t)
	}
	return "", nil
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
