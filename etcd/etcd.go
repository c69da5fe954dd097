// Package etcd is Longshoreman's store on an etcd key prefix, for several
// controllers sharing one cluster's state. It holds the same records as a
// data file (package db) and implements cluster.Store with the same
// behaviour, which the conformance suite in package storetest checks. It is
// the only package importing go.etcd.io/etcd/client/v3.
//
// Key layout under the prefix P:
//
//	P/meta/<name>              raw string, as in the file's meta bucket
//	P/apps/<app>               App JSON
//	P/hosts/<addr>             Host JSON
//	P/registries/<addr>        Registry JSON, the password sealed (cluster/secretseal.go)
//	P/revisions/<app>/<%020d>  Revision JSON, one key per revision
//	P/instances/<app>          JSON array of the app's Instance objects
//	P/certs/<domain>           Cert JSON: a certificate, its key and its ACME state
//	P/tasks/<app>/<id>         Task JSON: a one-off task, the newest TaskHistory per app
//	P/election/<lease>         a running controller's campaign (election.go)
//
// Every write is one Txn: it reads at one revision, then commits guarded by
// the ModRevision of every key it read (and, for the prefixes it listed, that
// none was modified since), and retries from the start when another writer
// got in between. The layout keeps each write within etcd's defaults of 128
// operations and 1.5 MiB: an app's instances are one key, so routing,
// unrouting or retiring any number of them is one put; deleting an app is
// four operations (its key, its instances key, and one range delete each of
// its revisions and its tasks); pruning deletes at most maxPruneOps revisions per write (a
// history limit lowered by more is reached over the next deploys); a
// revision holds at most 64 KB of envs.
package etcd

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// SchemaVersion is the key layout this code reads and writes; a prefix with
// a higher one was written by a newer controller and is refused.
const SchemaVersion = 1

const (
	keySchema        = "schema"
	keyController    = "controller"
	keyRoutesVersion = "routes_version"
	keyRoutes        = "routes_sha256"
	keyCluster       = "cluster"
	keyEpoch         = "epoch"
	keyRoutesKey     = "routes_key"

	maxTxnOps   = 128 // etcd's default --max-txn-ops
	maxPruneOps = 100 // revisions one CreateRevision deletes at most
)

// Config says where the store is and how to open it.
type Config struct {
	Endpoints []string // host:port of etcd members
	Prefix    string   // key prefix, e.g. /longshoreman
	TLS       *tls.Config
	Username  string
	Password  string

	// Create creates the cluster identity when the prefix holds none.
	// Without it an empty prefix is an ENOTFOUND error, as a missing data
	// file is: a typo must not start an empty cluster.
	Create bool
	// ReadOnly opens without raising the epoch or writing anything.
	ReadOnly bool
	// MigrateTarget opens the prefix as the target of `migrate`, which
	// accepts a half-written copy (holding cluster.MetaMigrating) in order
	// to complete it. Every other open refuses such a prefix.
	MigrateTarget bool
	// SecretsKey is the comma list of keys the env values are sealed with
	// (LONGSHOREMAN_SECRETS_KEY; the first seals). Required to open for
	// writing: the prefix keeps no key of its own (see openSecrets).
	SecretsKey string
	// Timeout bounds each call to etcd; zero means 10 seconds.
	Timeout time.Duration
	// CompactInterval is how often old revisions are compacted; zero
	// means 5 minutes, negative never. CompactKeep revisions are kept
	// (zero means 1000), as kine does.
	CompactInterval time.Duration
	CompactKeep     int64
	// Backup writes a data file from records (db.WriteRecords); the
	// store's Backup fails without it. It is injected so that this
	// package does not depend on the file store.
	Backup func(w io.Writer, records func(func(cluster.Record) error) error) (int64, error)
}

// Store is an open etcd prefix. It is safe for concurrent use, also by
// several processes on one prefix: every write is a compare-and-swap.
//
// A Store returned by Fenced is a view of another: it shares its
// connection, watch and in-memory copies, and differs only in the fence
// its writes are conditioned on.
type Store struct {
	*state
	// term is the fence of a view's writes (see Fenced); nil for the
	// store Open returns, whose writes take the process's latest fence.
	term *fence
	// audit is the entry the view's first write transaction stores with
	// its change (see Audited); nil for the store Open returns.
	audit *cluster.AuditWrite
}

// state is what a store and its views share.
type state struct {
	cfg        Config
	client     *clientv3.Client
	root       string // prefix without a trailing slash
	controller string
	cluster    string
	epoch      atomic.Uint64 // raised at Open and at every leadership gain
	created    bool
	keyring    *cluster.Keyring   // seals and opens env values; set at open (nil: read-only without keys, or a migrate target)
	envKey     cluster.EnvKeyInfo // set at open
	now        func() time.Time
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup

	fence        atomic.Pointer[fence] // the latest leadership gain's; set at the first, never cleared
	generation   atomic.Uint64         // raised by every write seen, own or from the watch
	history      atomic.Int64
	instancesGen atomic.Uint64 // raised by every instance write seen
	tableGen     atomic.Uint64 // raised by every write seen of another key the routing table shows (tableKey)
	cacheMu      sync.Mutex    // guards cache
	cache        instanceCache
	routes       cluster.TableCache // of RoutingTable, by instancesGen and tableGen
}

// Open connects to etcd, checks the prefix's schema, creates the cluster
// identity on an empty prefix only with cfg.Create, and, unless read-only,
// raises the routing-table epoch. It starts a watch of the prefix (so reads
// served from memory see other controllers' writes) and the compaction of
// old revisions.
func Open(cfg Config) (*Store, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, cluster.Errorf(cluster.EINVALID, "No etcd endpoint given: write LONGSHOREMAN_DB as etcd://HOST:PORT[,HOST:PORT...]/PREFIX.")
	}
	root := "/" + strings.Trim(cfg.Prefix, "/")
	if root == "/" {
		return nil, cluster.Errorf(cluster.EINVALID, "No etcd key prefix given: write LONGSHOREMAN_DB as etcd://HOST:PORT/PREFIX, e.g. etcd://127.0.0.1:2379/longshoreman.")
	}
	if !cfg.ReadOnly && !cfg.MigrateTarget && strings.TrimSpace(cfg.SecretsKey) == "" {
		// Before anything is written: an --init without the key creates nothing.
		return nil, cluster.MissingSecretsKey(fmt.Sprintf("etcd prefix %s on %s", root, strings.Join(cfg.Endpoints, ",")), "", "")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.CompactInterval == 0 {
		cfg.CompactInterval = 5 * time.Minute
	}
	if cfg.CompactKeep == 0 {
		cfg.CompactKeep = 1000
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:            cfg.Endpoints,
		DialTimeout:          cfg.Timeout,
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		TLS:                  cfg.TLS,
		Username:             cfg.Username,
		Password:             cfg.Password,
		Logger:               zap.NewNop(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{state: &state{cfg: cfg, client: client, root: root, now: time.Now, ctx: ctx, cancel: cancel}}
	if err != nil {
		cancel()
		return nil, s.unavailable(etcdErr(err))
	}
	if err = s.init(); err == nil {
		err = s.openSecrets()
	}
	if err != nil {
		cancel()
		client.Close()
		return nil, err
	}
	ctx2, cancel2 := s.callContext()
	resp, err := client.Get(ctx2, s.metaKey(keySchema), clientv3.WithCountOnly())
	cancel2()
	if err != nil {
		s.Close()
		return nil, s.unavailable(etcdErr(err))
	}
	s.wg.Add(1)
	go s.watch(resp.Header.Revision + 1)
	if cfg.CompactInterval > 0 && !cfg.ReadOnly {
		s.wg.Add(1)
		go s.compactLoop()
	}
	return s, nil
}

func (s *Store) where() string {
	return fmt.Sprintf("etcd prefix %s on %s", s.root, strings.Join(s.cfg.Endpoints, ","))
}

// init reads (and creates, or raises the epoch of) the prefix's meta.
func (s *Store) init() error {
	return s.update(func(t *txn) error {
		schema, err := t.get(s.metaKey(keySchema))
		if err != nil {
			return err
		}
		fresh := schema == nil
		if fresh && (!s.cfg.Create || s.cfg.ReadOnly) {
			return cluster.Errorf(cluster.ENOTFOUND, "The %s holds no Longshoreman cluster: check LONGSHOREMAN_DB (or --db) for a typo in the prefix or the endpoints. To create a new, empty cluster there, start once with `longshoreman serve --init` (or LONGSHOREMAN_INIT=1).", s.where())
		}
		if v, _ := strconv.Atoi(string(schema)); v > SchemaVersion {
			return cluster.Errorf(cluster.EINVALID, "The %s has schema version %d, newer than this controller's %d: run a newer longshoreman, or restore a backup taken before the upgrade.", s.where(), v, SchemaVersion)
		}
		if !s.cfg.MigrateTarget && !fresh {
			begun, err := t.get(s.metaKey(cluster.MetaMigrating))
			if err != nil {
				return err
			}
			if begun != nil {
				return cluster.UnfinishedMigration(s.where(), string(begun))
			}
		}
		meta := map[string]string{}
		for _, k := range []string{keyController, keyCluster, keyEpoch} {
			v, err := t.get(s.metaKey(k))
			if err != nil {
				return err
			}
			meta[k] = string(v)
		}
		if !s.cfg.ReadOnly {
			if v, err := t.get(s.metaKey(cluster.MetaKeysOmitted)); err != nil {
				return err
			} else if v != nil {
				return cluster.KeysOmitted(s.where())
			}
		}
		s.created = fresh
		s.controller, s.cluster = meta[keyController], meta[keyCluster]
		epoch, _ := strconv.ParseUint(meta[keyEpoch], 10, 64)
		s.epoch.Store(epoch)
		if s.cfg.ReadOnly {
			return nil
		}
		if fresh {
			t.put(s.metaKey(keySchema), []byte(strconv.Itoa(SchemaVersion)))
		}
		if s.controller == "" {
			s.controller = randomHex(8)
			t.put(s.metaKey(keyController), []byte(s.controller))
		}
		if s.cluster == "" {
			s.cluster = s.controller
			if fresh {
				s.cluster = randomHex(16)
			}
			t.put(s.metaKey(keyCluster), []byte(s.cluster))
		}
		s.epoch.Store(max(uint64(s.now().UnixNano()), epoch+1))
		t.put(s.metaKey(keyEpoch), []byte(strconv.FormatUint(s.epoch.Load(), 10)))
		return nil
	})
}

// Close stops the watch and the compaction and closes the connection; on
// a view (see Fenced) it does nothing: close the store it is a view of.
func (s *Store) Close() error {
	if s.term != nil {
		return nil
	}
	s.cancel()
	s.wg.Wait()
	return s.client.Close()
}

// ControllerID returns the prefix's controller id: the longshoreman.controller
// label of the cluster's containers, shared by every controller on it.
func (s *Store) ControllerID() string { return s.controller }

// ClusterID returns the cluster id made at --init and kept by migrations.
func (s *Store) ClusterID() string { return s.cluster }

// Epoch returns the routing-table epoch last raised by this process, at
// Open or at a leadership gain (RaiseEpoch).
func (s *Store) Epoch() uint64 { return s.epoch.Load() }

// Created reports whether Open created the cluster identity.
func (s *Store) Created() bool { return s.created }

// Generation returns a number that rises with every write of this process
// and with every write of another one as soon as the watch delivers it.
func (s *Store) Generation() uint64 { return s.generation.Load() }

// Check reports whether etcd answers a quorum read of the prefix's meta.
func (s *Store) Check() error {
	ctx, cancel := s.callContext()
	defer cancel()
	resp, err := s.client.Get(ctx, s.metaKey(keySchema))
	if err != nil {
		return s.unavailable(etcdErr(err))
	}
	if len(resp.Kvs) == 0 {
		return cluster.Errorf(cluster.EUNAVAILABLE, "The %s lost its meta keys: restore it from a backup with `longshoreman restore`.", s.where())
	}
	return nil
}

// Size returns the size of the etcd member's database, which holds this
// prefix (and whatever else the etcd cluster stores).
func (s *Store) Size() int64 {
	ctx, cancel := s.callContext()
	defer cancel()
	for _, ep := range s.client.Endpoints() {
		if st, err := s.client.Status(ctx, ep); err == nil {
			return st.DbSize
		}
	}
	return 0
}

// Backup writes a data file holding every record of the prefix, read at
// one revision, so a backup of an etcd cluster restores onto a single
// controller; without keys, the private keys are left out
// (cluster.WithoutKeys).
func (s *Store) Backup(w io.Writer, keys bool) (int64, error) {
	if s.cfg.Backup == nil {
		return 0, cluster.Errorf(cluster.EINTERNAL, "This etcd store was opened without a backup writer.")
	}
	if !keys {
		return s.cfg.Backup(w, cluster.WithoutKeys(s.Records))
	}
	return s.cfg.Backup(w, s.Records)
}

func (s *Store) key(parts ...string) string { return s.root + "/" + strings.Join(parts, "/") }
func (s *Store) metaKey(name string) string { return s.key(cluster.RecordMeta, name) }

func (s *Store) callContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.ctx, s.cfg.Timeout)
}

// callError marks an error returned by a call to etcd, as opposed to one
// of this package's (a record that does not decode, a *cluster.Error).
type callError struct{ err error }

func (e *callError) Error() string { return e.err.Error() }
func (e *callError) Unwrap() error { return e.err }

func etcdErr(err error) error {
	if err == nil {
		return nil
	}
	return &callError{err}
}

// unavailable turns an error of a call to etcd into one a person can act
// on; other errors pass unchanged.
func (s *Store) unavailable(err error) error { return unavailable(s.where(), err) }

func unavailable(where string, err error) error {
	var ce *callError
	if !errors.As(err, &ce) {
		return err
	}
	switch {
	case errors.Is(err, rpctypes.ErrAuthFailed), errors.Is(err, rpctypes.ErrInvalidAuthToken), errors.Is(err, rpctypes.ErrUserEmpty):
		return cluster.Errorf(cluster.EUNAVAILABLE, "etcd refused the credentials for the %s (%v): check LONGSHOREMAN_ETCD_USERNAME and LONGSHOREMAN_ETCD_PASSWORD.", where, ce.err)
	case errors.Is(err, rpctypes.ErrPermissionDenied):
		return cluster.Errorf(cluster.EUNAVAILABLE, "etcd denied access to the %s (%v): grant the etcd user LONGSHOREMAN_ETCD_USERNAME read and write on the prefix.", where, ce.err)
	}
	return cluster.Errorf(cluster.EUNAVAILABLE, "etcd did not answer for the %s (%v): check that a majority of its members run and are reachable (and, for etcds://, LONGSHOREMAN_ETCD_CACERT, _CERT and _KEY).", where, ce.err)
}

// EnsureToken returns the stored API token, generating one (sealed) when
// there is none; created reports that it did.
func (s *Store) EnsureToken() (token string, created bool, err error) {
	err = s.update(func(t *txn) error {
		created = false
		if token, err = s.readAPIToken(t); err != nil || token != "" {
			return err
		}
		fresh := randomHex(24)
		sealed, err := s.keyring.SealToken(fresh)
		if err != nil {
			return err
		}
		token, created = fresh, true
		t.put(s.metaKey(cluster.MetaTokenSealed), sealed)
		return nil
	})
	return token, created, err
}

// Token returns the stored API token, or "". A store opened without the
// key of its secrets gives a *cluster.KeyMissingError.
func (s *Store) Token() (token string, err error) {
	err = s.view(func(t *txn) error {
		token, err = s.readAPIToken(t)
		return err
	})
	return token, err
}

// readAPIToken reads the token: the plaintext one of a release before
// encryption when there still is one, else the sealed one.
func (s *Store) readAPIToken(t *txn) (string, error) {
	plain, err := t.get(s.metaKey(cluster.MetaToken))
	if err != nil || plain != nil {
		return string(plain), err
	}
	sealed, err := t.get(s.metaKey(cluster.MetaTokenSealed))
	if err != nil || sealed == nil {
		return "", err
	}
	return s.keyring.OpenToken(sealed)
}

// EnsureRoutesKey returns the routing-table signing key, generating one
// when there is none; created reports that it did.
func (s *Store) EnsureRoutesKey() (string, bool, error) { return s.ensureMeta(keyRoutesKey, 32) }

// RoutesKey returns the stored routing-table signing key, or "".
func (s *Store) RoutesKey() (string, error) { return s.readMeta(keyRoutesKey) }

func (s *Store) ensureMeta(name string, n int) (value string, created bool, err error) {
	err = s.update(func(t *txn) error {
		v, err := t.get(s.metaKey(name))
		if err != nil {
			return err
		}
		if v != nil {
			value, created = string(v), false
			return nil
		}
		value, created = randomHex(n), true
		t.put(s.metaKey(name), []byte(value))
		return nil
	})
	return value, created, err
}

func (s *Store) readMeta(name string) (string, error) {
	var v []byte
	err := s.view(func(t *txn) error {
		var err error
		v, err = t.get(s.metaKey(name))
		return err
	})
	return string(v), err
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// isCompacted reports an error of a read at a revision that compaction
// removed meanwhile: the write starts again at a newer one.
func isCompacted(err error) bool { return errors.Is(err, rpctypes.ErrCompacted) }

var _ cluster.Store = (*Store)(nil)
