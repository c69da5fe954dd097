package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/pubsub"
	"github.com/redis/go-redis/v9"
)

// Settings that serve and router share.
var (
	setListen    = setting{"listen", "LONGSHOREMAN_LISTEN", "host:port to listen on; overrides --port"}
	setLogFormat = setting{"log-format", "LONGSHOREMAN_LOG_FORMAT", "log format: text or json"}
	setRoutesKey = setting{"", "LONGSHOREMAN_ROUTES_KEY", ""}

	setRedis         = setting{"redis", "REDIS_HOST, REDIS_PORT", "Redis host:port for the routing table"}
	setRedisHost     = setting{"", "REDIS_HOST", ""}
	setRedisPort     = setting{"", "REDIS_PORT", ""}
	setRedisUsername = setting{"", "REDIS_USERNAME", ""}
	setRedisPassword = setting{"", "REDIS_PASSWORD", ""}
	setRedisTLS      = setting{"", "REDIS_TLS", ""}
	setChannel       = setting{"channel", "LONGSHOREMAN_CHANNEL", "Redis PubSub channel of the routing table"}
)

// RedisConfig is the PubSub server that carries the routing table, the
// same settings for the controller and the routers.
type RedisConfig struct {
	Addr     string // host:port; --redis, or REDIS_HOST and REDIS_PORT
	Username string // REDIS_USERNAME: a Redis ACL user; empty: the default user
	Password string // REDIS_PASSWORD
	TLS      bool   // REDIS_TLS: connect over TLS (system CA roots)
	Channel  string // --channel, LONGSHOREMAN_CHANNEL
}

// DefaultRedisConfig is a Redis on this machine, on its usual port.
func DefaultRedisConfig() RedisConfig {
	return RedisConfig{Addr: "127.0.0.1:6379", Channel: cluster.DefaultChannel}
}

// load reads the Redis settings: REDIS_HOST and REDIS_PORT each replace
// their half of the address, --redis the whole of it.
func (c *RedisConfig) load(l *loader) {
	host, port, _ := net.SplitHostPort(c.Addr)
	l.String(&host, setRedisHost)
	l.String(&port, setRedisPort)
	c.Addr = net.JoinHostPort(host, port)
	l.flag(setRedis, func(help string) { l.fs.StringVar(&c.Addr, setRedis.flag, c.Addr, help) }) // its env is the two above
	l.String(&c.Username, setRedisUsername)
	l.String(&c.Password, setRedisPassword)
	l.Bool(&c.TLS, setRedisTLS)
	l.String(&c.Channel, setChannel)
}

// Validate reports a Redis address that cannot be dialed and an empty channel.
func (c RedisConfig) Validate() error {
	var p problems
	c.check(&p)
	return p.err()
}

func (c RedisConfig) check(p *problems) {
	p.hostPort(setRedis, c.Addr, false)
	if c.Channel == "" {
		p.add(setChannel, "is empty: give the PubSub channel's name (default %s)", cluster.DefaultChannel)
	}
}

// Client returns a client with short timeouts: a Redis that does not
// answer must never hold anything up.
func (c RedisConfig) Client() *redis.Client {
	opts := &redis.Options{
		Addr: c.Addr, Username: c.Username, Password: c.Password,
		DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
		MaxRetries: -1,
	}
	if c.TLS {
		host, _, _ := net.SplitHostPort(c.Addr)
		opts.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	return redis.NewClient(opts)
}

// The controller's settings.
var (
	setServePort   = setting{"port", "PORT", "HTTP port of the API"}
	setDB          = setting{"db", "LONGSHOREMAN_DB", "the data file"}
	setInit        = setting{"init", "LONGSHOREMAN_INIT", "create the data file, with a new cluster id, if it does not exist; changes nothing if it does. Pass it once, at the first start"}
	setToken       = setting{"", "LONGSHOREMAN_TOKEN", ""}
	setTLSCert     = setting{"tls-cert", "LONGSHOREMAN_TLS_CERT", "PEM certificate (chain) for the API; with --tls-key the API answers HTTPS only"}
	setTLSKey      = setting{"tls-key", "LONGSHOREMAN_TLS_KEY", "PEM private key of --tls-cert"}
	setHistory     = setting{"history", "LONGSHOREMAN_HISTORY", "revisions kept per app; succeeded ones a rollback can target are kept first"}
	setDockerPort  = setting{"docker-port", "DOCKER_PORT", "Docker API port on every host (default 2375, or 2376 with TLS)"}
	setDockerTLS   = setting{"", "DOCKER_TLS_VERIFY", ""}
	setDockerCerts = setting{"", "DOCKER_CERT_PATH", ""}
	setDrain       = setting{"drain", "LONGSHOREMAN_DRAIN", "wait between unrouting and stopping an instance"}
	setRepublish   = setting{"republish", "LONGSHOREMAN_REPUBLISH", "routing-table heartbeat"}
	setReconcile   = setting{"reconcile", "LONGSHOREMAN_RECONCILE", "reconcile loop interval"}
	setHostGrace   = setting{"host-grace", "LONGSHOREMAN_HOST_GRACE", "how long a host may not answer before it is marked down"}
	setMaxCount    = setting{"max-count", "LONGSHOREMAN_MAX_COUNT", "largest instance count per app"}
	setRebalance   = setting{"rebalance", "LONGSHOREMAN_REBALANCE", "spread apps onto a newly added host"}
	// The scheduler's observation settings (probe interval) go here.
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
	Redis       RedisConfig
	DockerPort  int  // 0 until loaded: 2375, or 2376 with DockerTLS
	DockerTLS   bool // DOCKER_TLS_VERIFY: any value but empty turns it on, as in Docker's own CLI
	DockerCerts string
	Drain       time.Duration
	Republish   time.Duration
	Reconcile   time.Duration
	HostGrace   time.Duration
	MaxCount    int
	History     int // revisions kept per app
	Rebalance   bool
	LogFormat   string
	TLSCert     string // PEM certificate (chain) of the API; with TLSKey, serve HTTPS only
	TLSKey      string
	Timeouts    ServerTimeouts
}

// DefaultServeConfig is what the controller runs with when nothing is set.
func DefaultServeConfig() ServeConfig {
	return ServeConfig{
		Port: 3000, DB: "longshoreman.db", DBDefault: true, Redis: DefaultRedisConfig(),
		Drain: cluster.DefaultDrain, Republish: cluster.DefaultRepublish, Reconcile: cluster.DefaultReconcile,
		HostGrace: cluster.DefaultHostGrace, MaxCount: cluster.DefaultMaxCount, History: cluster.DefaultHistory,
		Rebalance: true, LogFormat: "text",
	}
}

// LoadServeConfig reads the environment (getenv), then the flags in args,
// over DefaultServeConfig, and validates the result. -h prints the flags
// to output and returns flag.ErrHelp.
func LoadServeConfig(args []string, getenv func(string) string, output io.Writer) (ServeConfig, error) {
	c := DefaultServeConfig()
	l := newLoader("longshoreman serve", getenv, output)
	l.Int(&c.Port, setServePort)
	l.String(&c.Listen, setListen)
	l.String(&c.DB, setDB)
	l.Bool(&c.Init, setInit)
	l.String(&c.Token, setToken)
	l.String(&c.RoutesKey, setRoutesKey)
	l.String(&c.TLSCert, setTLSCert)
	l.String(&c.TLSKey, setTLSKey)
	l.Int(&c.History, setHistory)
	c.Redis.load(l)
	l.Int(&c.DockerPort, setDockerPort)
	c.DockerTLS = l.env(setDockerTLS) != ""
	l.String(&c.DockerCerts, setDockerCerts)
	l.Duration(&c.Drain, setDrain)
	l.Duration(&c.Republish, setRepublish)
	l.Duration(&c.Reconcile, setReconcile)
	l.Duration(&c.HostGrace, setHostGrace)
	l.Int(&c.MaxCount, setMaxCount)
	l.Bool(&c.Rebalance, setRebalance)
	l.String(&c.LogFormat, setLogFormat)
	l.fs.Usage = func() {
		fmt.Fprintf(l.fs.Output(), "Run the controller: the HTTP API, the scheduler, the reconciler and the routing-table publisher.\n\nUsage: longshoreman serve [flags]\n\nFlags (each also read from the environment variable named):\n")
		l.fs.PrintDefaults()
	}
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

func listenAddr(listen string, port int) string {
	if listen != "" {
		return listen
	}
	return ":" + strconv.Itoa(port)
}

// Validate reports every value out of its range, each naming its flag and
// environment variable and saying what is allowed.
func (c ServeConfig) Validate() error {
	var p problems
	p.port(setServePort, c.Port)
	if c.Listen != "" {
		p.hostPort(setListen, c.Listen, true)
	}
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
	p.positive(setHostGrace, c.HostGrace, "15s")
	p.atLeast(setMaxCount, c.MaxCount, 1, "the largest instance count of one app")
	p.atLeast(setHistory, c.History, 1, "the number of revisions to keep per app")
	p.oneOf(setLogFormat, c.LogFormat, "text", "json")
	c.Timeouts.check(&p)
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
	if t.ReadHeader == 0 {
		t.ReadHeader = 10 * time.Second
	}
	if t.Read == 0 {
		t.Read = time.Minute
	}
	if t.Write == 0 {
		t.Write = 20 * time.Minute
	}
	if t.Idle == 0 {
		t.Idle = 2 * time.Minute
	}
	if t.Shutdown == 0 {
		t.Shutdown = 30 * time.Second
	}
	return t
}
