package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/docker"
	"github.com/longshoreman/longshoreman/http"
	"github.com/longshoreman/longshoreman/metrics"
	"github.com/longshoreman/longshoreman/pubsub"
	"github.com/longshoreman/longshoreman/scheduler"
	"github.com/redis/go-redis/v9"
)

// ServeConfig is the controller's configuration (DESIGN.md section 7).
type ServeConfig struct {
	Listen        string // host:port of the API
	DB            string
	Token         string
	Redis         string // host:port
	RedisPassword string
	RedisTLS      bool // REDIS_TLS: connect to Redis over TLS (system roots)
	DockerPort    int
	DockerTLS     bool
	DockerCerts   string
	Channel       string
	Drain         time.Duration
	Republish     time.Duration
	Reconcile     time.Duration
	HostGrace     time.Duration
	MaxCount      int
	History       int // revisions kept per app
	Rebalance     bool
	LogFormat     string
	TLSCert       string // PEM certificate (chain) of the API; with TLSKey, serve HTTPS only
	TLSKey        string
	Timeouts      ServerTimeouts
	Init          bool   // --init, LONGSHOREMAN_INIT: create DB when it does not exist
	RoutesKey     string // LONGSHOREMAN_ROUTES_KEY: the first key of the list signs; empty: the stored one
	RedisUsername string // REDIS_USERNAME: a Redis ACL user; empty: the default user
}

// ServerTimeouts bound how long a client may take, so slow or idle
// clients cannot hold the API's connections.
type ServerTimeouts struct {
	ReadHeader time.Duration // default 10s
	Read       time.Duration // whole request, body included; default 1m
	Write      time.Duration // whole answer; a deploy answers when it ends, so default 20m
	Idle       time.Duration // keep-alive; default 2m
	Shutdown   time.Duration // how long ordinary requests may finish at shutdown; default 30s
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

// ServeCommand runs the controller. Its Open/Close halves let tests run
// the real program in-process.
type ServeCommand struct {
	Stderr io.Writer
	Getenv func(string) string
	Config ServeConfig

	logger    *slog.Logger
	db        cluster.Store
	engines   *docker.Engines
	scheduler *scheduler.Scheduler
	reconcile *scheduler.Reconciler
	publisher *pubsub.Publisher
	redis     *redis.Client
	server    *nethttp.Server
	api       *http.Server
	listener  net.Listener
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	defaultDB bool // DB is the default path (no --db, no LONGSHOREMAN_DB): created without --init
}

// Run parses flags, opens everything, serves until ctx ends, then shuts
// down gracefully: in-flight requests finish and the data file is closed.
func (c *ServeCommand) Run(ctx context.Context, args []string) error {
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	if err := c.Open(ctx); err != nil {
		c.Close()
		return err
	}
	<-ctx.Done()
	c.logger.Info("shutting down: finishing in-flight requests")
	return c.Close()
}

// ParseFlags reads the environment, then the flags, into c.Config.
func (c *ServeCommand) ParseFlags(args []string) error {
	get := c.Getenv
	env := &envReader{get: get}
	fs := flag.NewFlagSet("longshoreman serve", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	port := fs.Int("port", env.Int("PORT", 3000), "HTTP port of the API (env PORT)")
	fs.StringVar(&c.Config.Listen, "listen", get("LONGSHOREMAN_LISTEN"), "host:port to listen on; overrides --port (env LONGSHOREMAN_LISTEN)")
	fs.StringVar(&c.Config.DB, "db", envOr(get, "LONGSHOREMAN_DB", "longshoreman.db"), "the data file (env LONGSHOREMAN_DB)")
	fs.StringVar(&c.Config.Redis, "redis", net.JoinHostPort(envOr(get, "REDIS_HOST", "127.0.0.1"), envOr(get, "REDIS_PORT", "6379")), "Redis host:port for the routing table (env REDIS_HOST, REDIS_PORT)")
	fs.IntVar(&c.Config.DockerPort, "docker-port", env.Int("DOCKER_PORT", 0), "Docker API port on every host (env DOCKER_PORT; default 2375, or 2376 with TLS)")
	fs.StringVar(&c.Config.Channel, "channel", envOr(get, "LONGSHOREMAN_CHANNEL", cluster.DefaultChannel), "Redis PubSub channel (env LONGSHOREMAN_CHANNEL)")
	fs.DurationVar(&c.Config.Drain, "drain", env.Duration("LONGSHOREMAN_DRAIN", cluster.DefaultDrain), "wait between unrouting and stopping an instance (env LONGSHOREMAN_DRAIN)")
	fs.DurationVar(&c.Config.Republish, "republish", env.Duration("LONGSHOREMAN_REPUBLISH", cluster.DefaultRepublish), "routing-table heartbeat (env LONGSHOREMAN_REPUBLISH)")
	fs.DurationVar(&c.Config.Reconcile, "reconcile", env.Duration("LONGSHOREMAN_RECONCILE", cluster.DefaultReconcile), "reconcile loop interval (env LONGSHOREMAN_RECONCILE)")
	fs.DurationVar(&c.Config.HostGrace, "host-grace", env.Duration("LONGSHOREMAN_HOST_GRACE", cluster.DefaultHostGrace), "how long a host may not answer before it is marked down (env LONGSHOREMAN_HOST_GRACE)")
	fs.IntVar(&c.Config.MaxCount, "max-count", env.Int("LONGSHOREMAN_MAX_COUNT", cluster.DefaultMaxCount), "largest instance count per app (env LONGSHOREMAN_MAX_COUNT)")
	fs.IntVar(&c.Config.History, "history", env.Int("LONGSHOREMAN_HISTORY", cluster.DefaultHistory), "revisions kept per app; succeeded ones a rollback can target are kept first (env LONGSHOREMAN_HISTORY)")
	fs.BoolVar(&c.Config.Rebalance, "rebalance", envOr(get, "LONGSHOREMAN_REBALANCE", "true") == "true", "spread apps onto a newly added host (env LONGSHOREMAN_REBALANCE)")
	fs.BoolVar(&c.Config.Init, "init", env.Bool("LONGSHOREMAN_INIT"), "create the data file, with a new cluster id, if it does not exist; changes nothing if it does. Pass it once, at the first start (env LONGSHOREMAN_INIT=1)")
	fs.StringVar(&c.Config.TLSCert, "tls-cert", get("LONGSHOREMAN_TLS_CERT"), "PEM certificate (chain) for the API; with --tls-key the API answers HTTPS only (env LONGSHOREMAN_TLS_CERT)")
	fs.StringVar(&c.Config.TLSKey, "tls-key", get("LONGSHOREMAN_TLS_KEY"), "PEM private key of --tls-cert (env LONGSHOREMAN_TLS_KEY)")
	fs.StringVar(&c.Config.LogFormat, "log-format", envOr(get, "LONGSHOREMAN_LOG_FORMAT", "text"), "log format: text or json (env LONGSHOREMAN_LOG_FORMAT)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Run the controller: the HTTP API, the scheduler, the reconciler and the routing-table publisher.\n\nUsage: longshoreman serve [flags]\n\nFlags (each also read from the environment variable named):\n")
		fs.PrintDefaults()
	}
	if err := env.Err(); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments, got %q: see longshoreman serve -h", fs.Args())
	}
	if c.Config.Listen == "" {
		c.Config.Listen = ":" + strconv.Itoa(*port)
	}
	c.defaultDB = get("LONGSHOREMAN_DB") == ""
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "db" {
			c.defaultDB = false
		}
	})
	c.Config.RoutesKey = get("LONGSHOREMAN_ROUTES_KEY")
	c.Config.RedisUsername = get("REDIS_USERNAME")
	c.Config.Token = get("LONGSHOREMAN_TOKEN")
	if n := len(c.Config.Token); n > 0 && n < MinTokenLength {
		return fmt.Errorf("LONGSHOREMAN_TOKEN is %d characters long; use at least %d random ones (e.g. from openssl rand -hex 24), or unset it to have one generated", n, MinTokenLength)
	}
	c.Config.RedisPassword = get("REDIS_PASSWORD")
	// As Docker's own CLI does, any non-empty DOCKER_TLS_VERIFY turns TLS on.
	c.Config.DockerTLS = get("DOCKER_TLS_VERIFY") != ""
	c.Config.DockerCerts = get("DOCKER_CERT_PATH")
	if c.Config.DockerTLS && c.Config.DockerCerts == "" {
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			return fmt.Errorf("DOCKER_TLS_VERIFY is set but DOCKER_CERT_PATH is not, and there is no home directory to look in for .docker: set DOCKER_CERT_PATH to the directory with ca.pem, cert.pem and key.pem")
		}
		c.Config.DockerCerts = filepath.Join(home, ".docker")
	}
	c.Config.RedisTLS = get("REDIS_TLS") != "" && get("REDIS_TLS") != "0" && get("REDIS_TLS") != "false"
	if c.Config.DockerPort == 0 {
		c.Config.DockerPort = cluster.DefaultDockerPort
		if c.Config.DockerTLS {
			c.Config.DockerPort = 2376
		}
	}
	if (c.Config.TLSCert == "") != (c.Config.TLSKey == "") {
		return fmt.Errorf("--tls-cert (LONGSHOREMAN_TLS_CERT) and --tls-key (LONGSHOREMAN_TLS_KEY) go together: give both to serve HTTPS, or neither")
	}
	if c.Config.History < 1 {
		return fmt.Errorf("--history (LONGSHOREMAN_HISTORY) is %d: give the number of revisions to keep per app, at least 1", c.Config.History)
	}
	if c.Config.LogFormat != "text" && c.Config.LogFormat != "json" {
		return fmt.Errorf("--log-format must be text or json, not %q", c.Config.LogFormat)
	}
	return nil
}

// Open opens the data file, wires the parts and starts serving. It returns
// once the API listens; Redis and the hosts may still be unreachable.
func (c *ServeCommand) Open(ctx context.Context) error {
	c.logger = newLogger(c.Stderr, c.Config.LogFormat)
	cfg := c.Config
	var err error
	var tlsConfig *tls.Config
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("cannot load the API's certificate %s and key %s (%v): give PEM files that belong together with --tls-cert and --tls-key", cfg.TLSCert, cfg.TLSKey, err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	// Only an explicit --init, or the default path of a first `go run .
	// serve`, creates a data file: a typo or an unmounted volume must not
	// start an empty cluster whose table empties every router.
	if c.db, err = openStore(cfg.DB, cfg.Init || c.defaultDB, c.Getenv); err != nil {
		return err
	}
	if c.db.Created() {
		c.logger.Info("created a new data file with a new cluster id", "db", cfg.DB, "cluster", c.db.ClusterID())
	}
	routesKey := cfg.RoutesKey
	if routesKey == "" {
		var created bool
		if routesKey, created, err = c.db.EnsureRoutesKey(); err != nil {
			return err
		}
		if created {
			fmt.Fprintf(c.Stderr, "Generated a routes key that signs the routing tables (stored in %s). Every router needs it in LONGSHOREMAN_ROUTES_KEY; print it with `longshoreman token --routes-key --db %s`.\n\n", cfg.DB, cfg.DB)
		}
	}
	routesKeys, err := pubsub.ParseKeys(routesKey)
	if err != nil {
		return fmt.Errorf("LONGSHOREMAN_ROUTES_KEY: %v; unset it to use the key stored in the data file", err)
	}
	c.db.SetHistory(cfg.History)
	token := cfg.Token
	if token == "" {
		var created bool
		if token, created, err = c.db.EnsureToken(); err != nil {
			return err
		}
		path := TokenFile(cfg.DB)
		if err := writeTokenFile(path, token, created); err != nil {
			return err
		}
		if created {
			fmt.Fprintf(c.Stderr, "Generated an API token and wrote it to %s (readable only by this user; `longshoreman token --db %s` prints it).\n", path, cfg.DB)
		}
		c.logger.Info("API token file", "path", path)
	}

	c.engines = docker.New(docker.Config{Port: cfg.DockerPort, CertPath: certPath(cfg), Controller: c.db.ControllerID(), Auth: c.db.RegistryAuth})
	c.redis = newRedisUserClient(cfg.Redis, cfg.RedisUsername, cfg.RedisPassword, cfg.RedisTLS)
	c.publisher = pubsub.NewPublisher(pubsub.PublisherConfig{
		Client: c.redis, Channel: cfg.Channel, Source: c.db, Republish: cfg.Republish, Logger: c.logger,
		Key: routesKeys[0],
	})
	var reconcile *scheduler.Reconciler
	m := metrics.New(metrics.Sources{
		Instances: c.db.AllInstances, Hosts: c.db.Hosts, Down: func() []string { return reconcile.Down() },
		Published: func() (uint64, uint64) { st := c.publisher.Status(); return st.Published, st.Errors },
	})
	c.scheduler = scheduler.New(c.db, c.engines, scheduler.Config{
		Controller: c.db.ControllerID(), Drain: cfg.Drain, MaxCount: cfg.MaxCount, Rebalance: cfg.Rebalance,
		Logger: c.logger, RoutesChange: c.publisher.Changed, Observer: m,
		Published: func() uint64 { return c.publisher.Status().LastVersion },
	})
	reconcile = scheduler.NewReconciler(c.scheduler, scheduler.ReconcilerConfig{Interval: cfg.Reconcile, Grace: cfg.HostGrace})
	c.reconcile = reconcile
	api := http.NewServer(&http.Server{
		Store: c.db, Scheduler: c.scheduler, Publisher: publisherStatus{c.publisher}, Token: token, Logger: c.logger,
		Metrics: m.Handler(), Observer: m, Hosts: hostView{c.db, reconcile, c.engines},
	})
	c.api = api

	if c.listener, err = net.Listen("tcp", cfg.Listen); err != nil {
		return fmt.Errorf("cannot listen on %s (%v): choose another port with --port or PORT", cfg.Listen, err)
	}
	t := cfg.Timeouts.withDefaults()
	c.server = &nethttp.Server{
		Handler:           api,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(c.logger.Handler(), slog.LevelWarn),
		TLSConfig:         tlsConfig,
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	c.goRun(func() {
		serve := func() error { return c.server.Serve(c.listener) }
		if tlsConfig != nil {
			// Plain HTTP requests get net/http's 400 "Client sent an HTTP
			// request to an HTTPS server."
			serve = func() error { return c.server.ServeTLS(c.listener, "", "") }
		}
		if err := serve(); err != nil && !errors.Is(err, nethttp.ErrServerClosed) {
			c.logger.Error("API server stopped", "err", err)
		}
	})
	c.goRun(func() { _ = c.publisher.Run(runCtx) })
	c.goRun(func() { c.reconcile.Run(runCtx) })
	c.logger.Info("controller listening", "url", c.URL(), "db", cfg.DB, "controller", c.db.ControllerID(),
		"cluster", c.db.ClusterID(), "epoch", c.db.Epoch())
	c.goRun(func() { c.sayWhatIsMissing(runCtx) })
	return nil
}

// sayWhatIsMissing tells, once at start, what the controller is waiting
// for: Redis, hosts, or hosts that do not answer.
func (c *ServeCommand) sayWhatIsMissing(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.redis.Ping(pctx).Err(); err != nil && ctx.Err() == nil {
		c.logger.Warn("waiting for Redis: routes are published once it answers; deploys work meanwhile", "redis", c.Config.Redis, "err", err)
	}
	hosts, err := c.db.Hosts()
	if err != nil || ctx.Err() != nil {
		return
	}
	if len(hosts) == 0 {
		c.logger.Warn("waiting for hosts: none yet; add one with `longshoreman hosts:add IP` or POST /hosts")
		return
	}
	for host, status := range c.scheduler.HostHealth(ctx) {
		if status != "ok" {
			c.logger.Warn("waiting for a host's Docker API", "host", host, "status", status)
		}
	}
}

func (c *ServeCommand) goRun(f func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

// URL returns the API's base URL, for tests.
func (c *ServeCommand) URL() string {
	if c.Config.TLSCert != "" {
		return "https://" + c.listener.Addr().String()
	}
	return "http://" + c.listener.Addr().String()
}

// Close shuts the API down gracefully (in-flight requests finish, up to 30s
// for ordinary ones; deploys in flight hold it longer, up to 30m), stops the
// loops and closes the data file.
func (c *ServeCommand) Close() error {
	var errs []error
	if c.server != nil {
		errs = append(errs, c.shutdownServer())
	}
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
	if c.scheduler != nil {
		c.scheduler.Close()
	}
	if c.redis != nil {
		_ = c.redis.Close()
	}
	if c.engines != nil {
		_ = c.engines.Close()
	}
	if c.db != nil {
		errs = append(errs, c.db.Close())
	}
	return errors.Join(errs...)
}

// shutdownServer stops accepting requests and lets those in flight finish:
// ordinary ones for Timeouts.Shutdown, deploys until they end (at most
// 30m). Whatever is left then is cut.
func (c *ServeCommand) shutdownServer() error {
	t := c.Config.Timeouts.withDefaults()
	ctx, cancel := context.WithTimeout(context.Background(), t.Shutdown)
	err := c.server.Shutdown(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if n := c.api.Rollouts(); n > 0 {
		c.logger.Info("shutting down: waiting for deploys in flight to end", "deploys", n)
		deadline := time.Now().Add(30 * time.Minute)
		for c.api.Rollouts() > 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	c.logger.Warn("shutting down: cutting requests still running", "after", t.Shutdown)
	return c.server.Close()
}

// MinTokenLength is the shortest API token serve accepts.
const MinTokenLength = 16

// TokenFile is where serve writes the token it generated: beside the data
// file, readable only by its owner.
func TokenFile(dbPath string) string { return dbPath + ".token" }

// writeTokenFile writes token to path with mode 0600 unless the file
// already holds it (a data file restored from a backup may carry another
// token than the one written before).
func writeTokenFile(path, token string, created bool) error {
	if b, err := os.ReadFile(path); err == nil && !created && strings.TrimSpace(string(b)) == token {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err == nil {
		// OpenFile keeps the mode of an existing file.
		err = f.Chmod(0o600)
		if _, werr := f.WriteString(token + "\n"); err == nil {
			err = werr
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("cannot write the API token file %s (%v): make its directory writable, or set LONGSHOREMAN_TOKEN", path, err)
	}
	return nil
}

// hostView answers /healthz's host details from the reconciler's last
// pass. Only a host added since that pass is pinged (and only until the
// next pass, one interval at most), so polling /healthz does not call every
// host every time.
type hostView struct {
	db      cluster.Store
	r       *scheduler.Reconciler
	engines *docker.Engines
}

func (v hostView) HostStatus(ctx context.Context) map[string]string {
	hosts, _ := v.db.Hosts()
	down := map[string]bool{}
	for _, h := range v.r.Down() {
		down[h] = true
	}
	failing := v.r.Failing()
	checked := v.r.LastPassStarted()
	out := make(map[string]string, len(hosts))
	var mu sync.Mutex // guards out while pings run
	set := func(host, status string) {
		mu.Lock()
		out[host] = status
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for _, h := range hosts {
		since, failed := failing[h.Addr]
		switch {
		case down[h.Addr]:
			set(h.Addr, "down: its Docker API has not answered since "+since.UTC().Format(time.RFC3339))
		case failed:
			set(h.Addr, "not answering since "+since.UTC().Format(time.RFC3339)+"; marked down after --host-grace")
		case checked.IsZero() || h.Added.After(checked):
			wg.Add(1)
			go func() {
				defer wg.Done()
				pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				defer cancel()
				status := "ok"
				if err := v.engines.Ping(pctx, h.Addr); err != nil {
					status = cluster.ErrorMessage(err)
				}
				set(h.Addr, status)
			}()
		default:
			set(h.Addr, "ok")
		}
	}
	wg.Wait()
	return out
}

func certPath(cfg ServeConfig) string {
	if cfg.DockerTLS {
		return cfg.DockerCerts
	}
	return ""
}

// publisherStatus adapts the publisher to what /healthz shows.
type publisherStatus struct{ p *pubsub.Publisher }

func (s publisherStatus) RedisStatus() string {
	st := s.p.Status()
	if st.Connected {
		return "connected"
	}
	if st.LastError == "" {
		return "connecting"
	}
	return "not connected: " + st.LastError
}

func init() {
	// go-redis logs every failed dial on its own; the publisher already
	// reports Redis being away, with backoff, in the controller's log.
	redis.SetLogger(quietRedisLogger{})
}

type quietRedisLogger struct{}

func (quietRedisLogger) Printf(context.Context, string, ...any) {}

func newLogger(w io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

func envOr(get func(string) string, key, def string) string {
	if v := get(key); v != "" {
		return v
	}
	return def
}

// envReader reads typed environment variables, remembering the ones that
// do not parse so that start-up can refuse them with a clear message.
type envReader struct {
	get  func(string) string
	errs []error
}

func (e *envReader) Int(key string, def int) int {
	s := e.get(key)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not a whole number", key, s))
		return def
	}
	return v
}

func (e *envReader) Duration(key string, def time.Duration) time.Duration {
	s := e.get(key)
	if s == "" {
		return def
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not a duration such as 2s or 1m", key, s))
		return def
	}
	return v
}

// Bool reads a switch: 1 or true is on; unset, 0 or false is off.
func (e *envReader) Bool(key string) bool {
	switch s := e.get(key); strings.ToLower(s) {
	case "1", "true":
		return true
	case "", "0", "false":
		return false
	default:
		e.errs = append(e.errs, fmt.Errorf("%s=%q is neither 1/true nor 0/false", key, s))
		return false
	}
}

func (e *envReader) Err() error {
	if len(e.errs) == 0 {
		return nil
	}
	return fmt.Errorf("bad environment: %w; fix or unset it", errors.Join(e.errs...))
}

// newRedisClient returns a client for the PubSub server with short
// timeouts: a Redis that does not answer must never hold anything up.
func newRedisClient(addr, password string, useTLS bool) *redis.Client {
	return newRedisUserClient(addr, "", password, useTLS)
}

// newRedisUserClient is newRedisClient for a Redis ACL user (REDIS_USERNAME;
// "" is Redis's default user).
func newRedisUserClient(addr, username, password string, useTLS bool) *redis.Client {
	opts := &redis.Options{
		Addr: addr, Username: username, Password: password,
		DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
		MaxRetries: -1,
	}
	if useTLS {
		host, _, _ := net.SplitHostPort(addr)
		opts.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	return redis.NewClient(opts)
}
