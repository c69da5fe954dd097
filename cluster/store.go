package cluster

import (
	"io"
	"time"
)

// Store is everything the controller keeps, composed of one interface per
// concern: the store itself (MetaStore), apps, hosts, revisions, instances
// and the routing table, certificates, secrets, one-off tasks, registries,
// its records, and the audit log. Two stores implement it: a bbolt data
// file (package db) and an etcd key prefix (package etcd); one conformance
// suite (package storetest) holds both to the same behaviour. Each write
// method is one transaction. A consumer names only the pieces it uses (the
// scheduler's Store, the API's, the certificate manager's, migrate's); the
// whole is for the wiring in package command.
type Store interface {
	MetaStore
	AppStore
	HostStore
	RevisionStore
	InstanceStore
	CertStore
	SecretStore
	EnvKeyStore
	TaskStore
	JobStore
	RegistryStore
	TokenStore
	RecordStore
	AuditStore
}

// MetaStore is the store as a whole: who it belongs to, whether it
// answers, what it weighs.
type MetaStore interface {
	ControllerID() string // the longshoreman.controller label of the cluster's containers
	ClusterID() string    // made at --init, kept by restores and migrations
	Epoch() uint64        // raised at every open for writing
	Created() bool        // this open created the store (--init on a new file or prefix)
	Generation() uint64   // rises with every write
	Check() error         // nil when the store answers a read
	Size() int64          // bytes the store occupies
	Close() error
}

// AppStore holds the apps and their settings. ENOTFOUND for an unknown app.
type AppStore interface {
	Apps() ([]string, error)
	AllApps() ([]*App, error)
	App(name string) (*App, error)
	CreateApp(name string) (created bool, err error)
	UpdateApp(name string, fn func(*App) error) (*App, error)
	DeleteApp(name string) error
}

// HostStore holds the hosts.
type HostStore interface {
	Hosts() ([]Host, error)
	AddHost(addr string) (created bool, err error)
	HasHost(addr string) (bool, error)
	SetDraining(addr string, draining bool) error
	RemoveHost(addr string) error
}

// RevisionStore holds each app's revisions, the last SetHistory of them.
type RevisionStore interface {
	SetHistory(n int)
	CreateRevision(rev *Revision) error
	FinishRevision(app string, number int, status, reason string) (*Revision, error)
	Revision(app string, number int) (*Revision, error)
	Revisions(app string) ([]Revision, error)
	Deploying() ([]Revision, error)
	// RecordOOM counts an instance of the revision killed for memory at
	// at (OOMKills, LastOOM); ENOTFOUND when there is no such revision.
	RecordOOM(app string, number int, at time.Time) error
}

// InstanceStore holds the instances and the routing table made of them.
type InstanceStore interface {
	PutInstance(inst Instance) error
	SetRouted(app string, ids []string, routed bool) error
	Retire(app string, ids []string) (version uint64, err error)
	DeleteInstance(app, id string) error
	Instances(app string) ([]Instance, error)
	AllInstances() ([]Instance, error)
	// RoutingTable returns the table of the routed instances, the apps'
	// HTTPS settings and the certificates; its version rises when they
	// changed since the previous call.
	RoutingTable() (RoutingTable, error)
}

// CertStore holds the certificates, by domain, and the ACME state; a
// change of a chain or key raises the routing table's Certs. ENOTFOUND
// for an unknown domain.
type CertStore interface {
	Certs() ([]Cert, error)
	Cert(domain string) (*Cert, error)
	// PutCert and DeleteCert write whatever the domain holds: the
	// operator's writes, which win over a running order.
	PutCert(c Cert) error
	DeleteCert(domain string) error
	// ReplaceCert is the write of a certificate based on a read (an
	// order's result or failure): it stores c, or deletes the record when
	// c is nil, only if the domain's record still equals read (nil: there
	// is none); otherwise it changes nothing and returns ECONFLICT.
	ReplaceCert(domain string, read, c *Cert) error
	CertSet() (CertSet, error) // the issued certificates and their version, read at once
	// ACME accounts, one per directory URL; ok is false for none.
	ACMEAccount(directory string) (acct ACMEAccount, ok bool, err error)
	PutACMEAccount(directory string, acct ACMEAccount) error
	// Pending HTTP-01 challenges, token to key authorization, carried by
	// the routing table.
	PutChallenge(token, keyAuth string) error
	DeleteChallenge(token string) error
}

// SecretStore holds the secrets the controller generates at its first
// start: the API token, the routes key that signs the routing tables, and
// the router token, which reads GET /routes and GET /router/certs only.
// The API token is stored sealed with the keyring of the env values (see
// secretseal.go): Token gives it in clear, or a *KeyMissingError when the
// store was opened read-only without that key.
type SecretStore interface {
	EnsureToken() (token string, created bool, err error)
	Token() (string, error)
	EnsureRoutesKey() (key string, created bool, err error)
	RoutesKey() (string, error)
	EnsureRouterToken() (token string, created bool, err error)
	RouterToken() (string, error)
}

// EnvKeyStore says how the store holds env values: sealed with a key kept
// outside it (see Keyring and envseal.go), checked at open against the
// store's MetaSecretsCheck.
type EnvKeyStore interface {
	// EnvKey says which key seals, where it came from, and what the open
	// did (generated a key file, sealed plaintext records).
	EnvKey() EnvKeyInfo
	// RotateEnvKey seals every app's and revision's env values, the API
	// token, every registry's password and the store's check with the
	// first key of the keyring, and returns how
	// many records it sealed anew: once done, the other keys can be
	// dropped. A store opened without keys refuses it.
	RotateEnvKey() (int, error)
}

// EnvKeyInfo is what a store's open found of its env values' key.
type EnvKeyInfo struct {
	ID        string   // the key that seals
	IDs       []string // every key of the ring, ID first
	Source    string   // SecretsKeyVar, or the key file's path
	Generated bool     // the open generated the key and wrote its file
	Sealed    int      // plaintext records (of an earlier release) the open sealed
}

// TaskStore holds the one-off tasks (see Task), kept per app: the newest
// TaskHistory by Started. PutTask creates or replaces one in one
// transaction with the pruning (ENOTFOUND for an unknown app); Task reads
// one (ENOTFOUND); Tasks lists an app's newest first (ENOTFOUND for an
// unknown app); RunningTasks lists every app's tasks in state TaskRunning.
// Deleting an app deletes its tasks.
type TaskStore interface {
	PutTask(t Task) error
	Task(app, id string) (*Task, error)
	Tasks(app string) ([]Task, error)
	RunningTasks() ([]Task, error)
}

// JobStore holds the scheduled jobs (see Job), kept per app; deleting an
// app deletes its jobs. CreateJob refuses a name the app has (ECONFLICT),
// an app with MaxJobs (EINVALID) and an unknown app (ENOTFOUND); Job and
// DeleteJob give ENOTFOUND for an unknown job; Jobs lists an app's by
// name (ENOTFOUND for an unknown app), AllJobs every app's (SortJobs).
type JobStore interface {
	CreateJob(j Job) error
	DeleteJob(app, name string) error
	Job(app, name string) (*Job, error)
	Jobs(app string) ([]Job, error)
	AllJobs() ([]Job, error)
	// UpdateJob reads the job, calls fn with it and stores what fn left,
	// and, when task is not nil, records task as PutTask does, all in one
	// transaction: a claim of a run and the record of its task land
	// together or not at all. fn's error stops it, changing nothing; fn
	// may be called more than once (a store retries a write that
	// collided), so it must only change the job it is given. ENOTFOUND for
	// an unknown job or app.
	UpdateJob(app, name string, fn func(*Job) error, task *Task) (*Job, error)
}

// RegistryStore holds the credentials of private registries (never
// returned by the API), each password sealed with the keyring of the env
// values (see secretseal.go); RegistryAuth gives it in clear.
type RegistryStore interface {
	PutRegistry(r Registry) error
	DeleteRegistry(addr string) error
	Registries() ([]string, error)
	RegistryAuth(addr string) (username, password string, ok bool)
}

// TokenStore holds the named, scoped API tokens (see APIToken): their
// hashes, never their secrets. CreateToken stores a validated token
// (ECONFLICT when the name is taken, EINVALID past MaxTokens);
// DeleteToken removes one at once (ENOTFOUND); Tokens lists them by name;
// TokenByHash finds the one whose Hash is hash (ENOTFOUND), reading the
// store, so that a token deleted by any controller is refused by every
// other at its next request; TouchToken sets a token's LastUsed to at
// (ENOTFOUND when it was deleted: it never brings one back).
type TokenStore interface {
	CreateToken(t APIToken) error
	DeleteToken(name string) error
	Tokens() ([]APIToken, error)
	TokenByHash(hash string) (*APIToken, error)
	TouchToken(name string, at time.Time) error
}

// RecordStore copies a store record by record, for `migrate` and for
// backups of an etcd store as a data file.
type RecordStore interface {
	// Records calls fn with every record, in a consistent snapshot,
	// grouped by Kind and sorted by Scope and Key within a kind; fn's
	// error stops it.
	Records(fn func(Record) error) error
	// PutRecords stores records as they are (no validation, no epoch or
	// version change) in one transaction; a record with a nil Value
	// deletes its key. Callers keep batches within RecordBatch records.
	PutRecords(recs []Record) error
	// Backup writes a bbolt data file holding every record (GET /backup).
	// With keys a single controller can open it as it is; without, the
	// private keys are left out (see WithoutKeys) and it is restored with
	// `longshoreman restore`.
	Backup(w io.Writer, keys bool) (int64, error)
}

// Record kinds: the buckets of a data file.
const (
	RecordMeta       = "meta"
	RecordApp        = "apps"
	RecordHost       = "hosts"
	RecordRevision   = "revisions" // Scope is the app, Key the revision number in decimal
	RecordInstance   = "instances" // Scope is the app, Key the container id
	RecordRegistry   = "registries"
	RecordBatch      = 64 // records per PutRecords call: within an etcd Txn's 128 operations
	RecordBatchBytes = 1 << 20
)

// MetaMigrating is the meta record `migrate` (and `restore`) writes into
// its target before it copies anything, and removes once every record was
// copied. A store
// holding it is a half-written copy, missing records: every open refuses
// it (naming `migrate --force`) except migrate's own open of its target,
// which completes the copy. A store made by serve --init never holds it.
const MetaMigrating = "migrating"

// UnfinishedMigration is the error of opening a store that holds
// MetaMigrating (its value, begun, says which migrate left it); where
// names the store.
func UnfinishedMigration(where, begun string) error {
	return Errorf(EINVALID, "The %s is an unfinished copy: a copy into it began (%s) but did not finish, so records are missing and it cannot be served. Run it again to complete it (`longshoreman migrate --force FROM TO`, or the same `longshoreman restore BACKUP TO`), or give another store.", where, begun)
}

// Record is one stored value in a store-independent shape: Value is the
// JSON (or, for meta, the raw string) both stores hold.
type Record struct {
	Kind  string
	Scope string
	Key   string
	Value []byte
}
