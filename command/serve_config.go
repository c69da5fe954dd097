package command

import (
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cli"
	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/etcd"
	"github.com/longshoreman/longshoreman/pubsub"
	"github.com/longshoreman/longshoreman/scheduler"
)

// ServeConfig is the controller's configuration: DefaultServeConfig,
// then LoadServeConfig's environment and flags, then Validate.
type ServeConfig struct {
	Port        int    // --port, PORT; used when Listen is empty
	Listen      string // host:port of the API; overrides Port
	DB          string
	DBDefault   bool // DB was given neither by --db nor LONGSHOREMAN_DB: created without --init
	Init        bool // --init, LONGSHOREMAN_INIT: create DB when it does not exist
	Token       string
	RoutesKey   string // LONGSHOREMAN_ROUTES_KEY: the first key of the list signs; empty: the stored one
	SecretsKey  string // LONGSHOREMAN_SECRETS_KEY: keys of the env values, the first seals; empty: the data file's key file (an etcd store needs it)
	Redis       RedisConfig
	DockerPort  int  // 0 until loaded: 2375, or 2376 with DockerTLS
	DockerTLS   bool // DOCKER_TLS_VERIFY: any value but empty turns it on, as in Docker's own CLI
	DockerCerts string
	Drain       time.Duration
	Republish   time.Duration
	Reconcile   time.Duration
	// ProbeInterval is the time between two health checks of one instance.
	ProbeInterval time.Duration
	HostGrace     time.Duration
	MaxCount      int
	History       int           // revisions kept per app
	KeepImages    int           // newest succeeded revisions per app whose images stay on the hosts
	AuditKeep     int           // audit-log entries kept
	AuditMaxAge   time.Duration // how long an audit-log entry is kept
	Rebalance     bool
	LogFormat     string
	LogLevel      string // debug, info, warn or error
	TLSCert       string // PEM certificate (chain) of the API; with TLSKey, serve HTTPS only
	TLSKey        string
	Timeouts      ServerTimeouts
	Lease         time.Duration // LONGSHOREMAN_LEASE: the leader's lease on an etcd store
	Advertise     string        // LONGSHOREMAN_ADVERTISE: this controller's URL for the others; required on etcd
	CACert        string        // LONGSHOREMAN_CACERT: PEM file of the CA of the other controllers' https URLs; empty: the system's CAs
	ACME          ACMEConfig    // certificates for the apps with HTTPS on; off without an e-mail; Directory "" is Let's Encrypt
}

// setServeCACert names the CA the controller verifies the others' https
// URLs with when it forwards to the leader, as the CLI and the routers
// verify the controller's.
var setServeCACert = setting{"", "LONGSHOREMAN_CACERT", ""}

// DefaultServeConfig is what the controller runs with when nothing is set.
func DefaultServeConfig() ServeConfig {
	return ServeConfig{
		Port: 3000, DB: "longshoreman.db", DBDefault: true, Redis: DefaultRedisConfig(),
		Drain: cluster.DefaultDrain, Republish: cluster.DefaultRepublish, Reconcile: cluster.DefaultReconcile,
		ProbeInterval: scheduler.DefaultProbeInterval,
		HostGrace:     cluster.DefaultHostGrace, MaxCount: cluster.DefaultMaxCount, History: cluster.DefaultHistory,
		KeepImages: cluster.DefaultKeepImages, AuditKeep: cluster.DefaultAuditKeep, AuditMaxAge: cluster.DefaultAuditMaxAge,
		Rebalance: true, LogFormat: "text", LogLevel: "info", Lease: 5 * time.Second,
	}
}

const serveAbout = `Run the controller: the HTTP API, the scheduler, the reconciler and the routing-table publisher.

Usage: longshoreman serve [flags]

Flags (each also read from the environment variable named):
`

// LoadServeConfig reads the environment (getenv), then the flags in args,
// over DefaultServeConfig, and validates the result. -h prints the flags
// to output and returns flag.ErrHelp.
func LoadServeConfig(args []string, getenv func(string) string, output io.Writer) (ServeConfig, error) {
	c := DefaultServeConfig()
	l := newLoader("longshoreman serve", serveAbout, getenv, output)
	l.Int(&c.Port, setServePort)
	l.String(&c.Listen, setListen)
	l.String(&c.DB, setDB)
	l.Bool(&c.Init, setInit)
	l.String(&c.Token, setToken)
	l.String(&c.RoutesKey, setRoutesKey)
	l.String(&c.SecretsKey, setSecretsKey)
	l.String(&c.TLSCert, setTLSCert)
	l.String(&c.TLSKey, setTLSKey)
	l.Int(&c.History, setHistory)
	l.Int(&c.KeepImages, setKeepImages)
	l.Int(&c.AuditKeep, setAuditKeep)
	l.Duration(&c.AuditMaxAge, setAuditMaxAge)
	c.Redis.load(l)
	l.Int(&c.DockerPort, setDockerPort)
	c.DockerTLS = l.env(setDockerTLS) != ""
	l.String(&c.DockerCerts, setDockerCerts)
	l.Duration(&c.Drain, setDrain)
	l.Duration(&c.Republish, setRepublish)
	l.Duration(&c.Reconcile, setReconcile)
	l.Duration(&c.ProbeInterval, setProbeInterval)
	l.Duration(&c.HostGrace, setHostGrace)
	l.Int(&c.MaxCount, setMaxCount)
	l.Bool(&c.Rebalance, setRebalance)
	l.String(&c.LogFormat, setLogFormat)
	l.String(&c.LogLevel, setLogLevel)
	l.Duration(&c.Lease, setLease)
	l.String(&c.Advertise, setAdvertise)
	l.String(&c.CACert, setServeCACert)
	c.ACME.load(l)
	if err := l.parse(args); err != nil {
		return c, err
	}
	c.DBDefault = !l.given(setDB)
	if c.DockerPort == 0 {
		c.DockerPort = cluster.DefaultDockerPort
		if c.DockerTLS {
			c.DockerPort = 2376
		}
	}
	if c.DockerTLS && c.DockerCerts == "" {
		// Docker's convention: the certificates are in ~/.docker.
		if home, err := os.UserHomeDir(); err == nil && home != "" {
			c.DockerCerts = filepath.Join(home, ".docker")
		}
	}
	return c, c.Validate()
}

// Addr is the address the API listens on: Listen, or every address on Port.
func (c ServeConfig) Addr() string { return listenAddr(c.Listen, c.Port) }

// Validate reports every value out of its range, each naming its flag and
// environment variable and saying what is allowed.
func (c ServeConfig) Validate() error {
	var p problems
	p.listen(setServePort, c.Port, c.Listen)
	if c.DB == "" {
		p.add(setDB, "is empty: give the path of the data file")
	}
	if n := len(c.Token); n > 0 && n < MinTokenLength {
		p.add(setToken, "is %d characters long; use at least %d random ones (e.g. from openssl rand -hex 24), or unset it to have one generated", n, MinTokenLength)
	}
	if c.RoutesKey != "" {
		if _, err := pubsub.ParseKeys(c.RoutesKey); err != nil {
			p.add(setRoutesKey, "is not usable: %v; unset it to use the key stored in the data file", err)
		}
	}
	if c.SecretsKey != "" {
		if _, err := cluster.ParseKeyring(c.SecretsKey); err != nil {
			p.add(setSecretsKey, "is not usable: %s", strings.TrimPrefix(cluster.ErrorMessage(err), cluster.SecretsKeyVar+": "))
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		p.add(setTLSCert, "and %s go together: give both to serve HTTPS, or neither", setTLSKey)
	}
	c.Redis.check(&p)
	p.port(setDockerPort, c.DockerPort)
	if c.DockerTLS && c.DockerCerts == "" {
		p.add(setDockerTLS, "is set but %s is not, and there is no home directory to look in for .docker: set %s to the directory with ca.pem, cert.pem and key.pem", setDockerCerts, setDockerCerts)
	}
	p.positive(setDrain, c.Drain, "2s")
	p.positive(setRepublish, c.Republish, "10s")
	p.positive(setReconcile, c.Reconcile, "5s")
	p.positive(setProbeInterval, c.ProbeInterval, "5s")
	p.positive(setHostGrace, c.HostGrace, "15s")
	p.atLeast(setMaxCount, c.MaxCount, 1, "the largest instance count of one app")
	p.atLeast(setHistory, c.History, 1, "the number of revisions to keep per app")
	p.atLeast(setKeepImages, c.KeepImages, 1, "the number of an app's newest succeeded revisions whose images stay on the hosts")
	p.atLeast(setAuditKeep, c.AuditKeep, 1, "the number of audit-log entries to keep")
	if c.AuditMaxAge < time.Hour {
		p.add(setAuditMaxAge, "is %s: give how long to keep audit-log entries, at least 1h, e.g. 2160h (90 days, the default)", c.AuditMaxAge)
	}
	p.oneOf(setLogFormat, c.LogFormat, "text", "json")
	p.oneOf(setLogLevel, c.LogLevel, logLevels...)
	c.Timeouts.check(&p)
	c.ACME.check(&p)
	if c.Lease < time.Second {
		p.add(setLease, "is %s: give a lease of at least 1s, e.g. 5s (the default)", c.Lease)
	}
	if c.CACert != "" {
		if _, err := cli.TLSConfig(c.CACert); err != nil {
			p.add(setServeCACert, "%v", err)
		}
	}
	if etcd.IsURL(c.DB) {
		if c.Advertise == "" {
			p.add(setAdvertise, "is empty but %s is an etcd store, shared by several controllers: give the URL the other controllers reach this one's API at, e.g. http://10.0.0.1:3000", setDB)
		} else if u, err := url.Parse(c.Advertise); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add(setAdvertise, "is %q: give a URL with its scheme and host, e.g. http://10.0.0.1:3000", c.Advertise)
		}
	}
	return p.err()
}

// ServerTimeouts bound how long a client may take, so slow or idle
// clients cannot hold the API's connections. Zero is the default.
type ServerTimeouts struct {
	ReadHeader time.Duration // default 10s
	Read       time.Duration // whole request, body included; default 1m
	Write      time.Duration // whole answer; a deploy answers when it ends, so default 20m
	Idle       time.Duration // keep-alive; default 2m
	Shutdown   time.Duration // how long ordinary requests may finish at shutdown; default 30s
}

func (t ServerTimeouts) check(p *problems) {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ReadHeader", t.ReadHeader}, {"Read", t.Read}, {"Write", t.Write}, {"Idle", t.Idle}, {"Shutdown", t.Shutdown}} {
		if d.v < 0 {
			p.add(setting{env: "ServerTimeouts." + d.name}, "is %s: give a duration of 0 (the default) or more", d.v)
		}
	}
}

func (t ServerTimeouts) withDefaults() ServerTimeouts {
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&t.ReadHeader, 10 * time.Second}, {&t.Read, time.Minute}, {&t.Write, 20 * time.Minute},
		{&t.Idle, 2 * time.Minute}, {&t.Shutdown, 30 * time.Second},
	} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	return t
}
