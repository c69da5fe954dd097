package command

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/certs"
	"github.com/longshoreman/longshoreman/cli"
	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/docker"
	"github.com/longshoreman/longshoreman/etcd"
	"github.com/longshoreman/longshoreman/events"
	"github.com/longshoreman/longshoreman/http"
	"github.com/longshoreman/longshoreman/leadership"
	"github.com/longshoreman/longshoreman/metrics"
	"github.com/longshoreman/longshoreman/pubsub"
	"github.com/longshoreman/longshoreman/scheduler"
	"github.com/longshoreman/longshoreman/traffic"
	"github.com/longshoreman/longshoreman/ui"
)

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
	jobs      *scheduler.JobRunner // runs the scheduled jobs while this controller leads
	publisher *pubsub.Publisher
	traffic   *traffic.Store          // the routers' summaries, merged
	trafficRx *pubsub.TrafficReceiver // hears them, leader or not
	redis     *pubsub.Client
	server    *nethttp.Server
	api       *http.Server
	listener  net.Listener
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	leader    *leadership.Leadership
	certs     *certs.Manager // nil without LONGSHOREMAN_ACME_EMAIL
	events    *events.Bus    // what GET /events streams
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

// ParseFlags loads c.Config from the environment and the flags in args,
// and validates it.
func (c *ServeCommand) ParseFlags(args []string) error {
	cfg, err := LoadServeConfig(args, c.Getenv, c.Stderr)
	if err != nil {
		return err
	}
	c.Config = cfg
	return nil
}

// Open opens the store, wires the parts and starts serving, in the steps
// below. It returns once the API listens; Redis and the hosts may still be
// unreachable. On an error, Close releases what was opened.
func (c *ServeCommand) Open(ctx context.Context) error {
	// Also refuses values set on Config after ParseFlags.
	if err := c.Config.Validate(); err != nil {
		return err
	}
	c.logger = newLogger(c.Stderr, c.Config.LogFormat, c.Config.LogLevel)
	tlsConfig, err := c.Config.apiTLS()
	if err != nil {
		return err
	}
	if err := c.openStore(); err != nil {
		return err
	}
	secrets, err := c.ensureSecrets()
	if err != nil {
		return err
	}
	m, err := c.buildScheduler(secrets)
	if err != nil {
		return err
	}
	if err := c.buildAPI(secrets, m); err != nil {
		return err
	}
	return c.listen(ctx, tlsConfig)
}

// apiTLS loads the API's certificate; nil when the API serves plain HTTP.
func (cfg ServeConfig) apiTLS() (*tls.Config, error) {
	if cfg.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("cannot load the API's certificate %s and key %s (%v): give PEM files that belong together with --tls-cert and --tls-key", cfg.TLSCert, cfg.TLSKey, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// openStore opens the data file or etcd prefix. Only an explicit --init,
// or the default path of a first `go run . serve`, creates one: a typo or
// an unmounted volume must not start an empty cluster whose table empties
// every router.
func (c *ServeCommand) openStore() error {
	cfg := c.Config
	var err error
	if c.db, err = openStore(cfg.DB, cfg.Init || cfg.DBDefault, cfg.SecretsKey, c.Getenv); err != nil {
		return err
	}
	if c.db.Created() {
		c.logger.Info("created a new data file with a new cluster id", "db", cfg.DB, "cluster", c.db.ClusterID())
	}
	key := c.db.EnvKey()
	if key.Generated {
		fmt.Fprintf(c.Stderr, "Generated the key that encrypts the env values, the API token and the registry passwords and wrote it to %s (readable only by this user). Keep a copy apart from the data file and its backups: neither opens without it (give it in %s).\n\n", key.Source, cluster.SecretsKeyVar)
	}
	// The key's id and where it came from; never the key.
	c.logger.Info("env values encrypted", "key_id", key.ID, "keys", len(key.IDs), "from", key.Source, "sealed_at_start", key.Sealed)
	c.db.SetHistory(cfg.History)
	return nil
}

// secrets are the keys and tokens the controller runs with.
type secrets struct {
	routesKeys  [][]byte // the first signs the routing tables
	token       string   // the API token
	routerToken string   // the routers' token: routes and certificates only
}

// ensureSecrets takes each secret from the configuration, or from the
// store, generating it there at the first start (and writing a generated
// API token to its file beside the data file).
func (c *ServeCommand) ensureSecrets() (secrets, error) {
	cfg := c.Config
	var s secrets
	var err error
	routesKey := cfg.RoutesKey
	if routesKey == "" {
		var created bool
		if routesKey, created, err = c.db.EnsureRoutesKey(); err != nil {
			return s, err
		}
		if created {
			fmt.Fprintf(c.Stderr, "Generated a routes key that signs the routing tables (stored in %s). Every router needs it in LONGSHOREMAN_ROUTES_KEY; print it with `longshoreman token --routes-key --db %s`.\n\n", cfg.DB, cfg.DB)
		}
	}
	if s.routesKeys, err = pubsub.ParseKeys(routesKey); err != nil {
		return s, fmt.Errorf("%s: %v; unset it to use the key stored in the data file", setRoutesKey, err)
	}
	if s.token = cfg.Token; s.token == "" {
		var created bool
		if s.token, created, err = c.db.EnsureToken(); err != nil {
			return s, err
		}
		path := TokenFile(cfg.DB)
		if err := writeTokenFile(path, s.token, created); err != nil {
			return s, err
		}
		if created {
			fmt.Fprintf(c.Stderr, "Generated an API token and wrote it to %s (readable only by this user; `longshoreman token --db %s` prints it).\n", path, cfg.DB)
		}
		c.logger.Info("API token file", "path", path)
	}
	if s.routerToken = cfg.ACME.RouterToken; s.routerToken == "" {
		if s.routerToken, _, err = c.db.EnsureRouterToken(); err != nil {
			return s, err
		}
	}
	if s.routerToken == s.token {
		return s, fmt.Errorf("%s is the API token: give the routers a token of their own (or unset it to use the stored one), so that theirs reads only routes and certificates", setServeRouterToken)
	}
	return s, nil
}

// buildScheduler wires what changes the cluster: the Docker engines, the
// leadership and its fences, the publisher, the certificate manager, the
// scheduler (given the traffic figures a canary is judged by) and its
// reconciler. It returns the metrics, which the API serves.
func (c *ServeCommand) buildScheduler(s secrets) (*metrics.Metrics, error) {
	cfg := c.Config
	c.engines = docker.New(docker.Config{Port: cfg.DockerPort, CertPath: certPath(cfg), Controller: c.db.ControllerID(), Auth: c.db.RegistryAuth})
	c.events = events.New(0, 0)
	c.leader = newLeadership(c.db, etcd.ElectionConfig{ID: leadership.ID(), URL: cfg.Advertise, TTL: cfg.Lease, Logger: c.logger}, c.events.Publish)
	c.redis = cfg.Redis.Client()
	c.publisher = pubsub.NewPublisher(pubsub.PublisherConfig{
		Client: c.redis, Channel: cfg.Redis.Channel, Source: c.leader.Table(c.db), Republish: cfg.Republish, Logger: c.logger,
		Key: s.routesKeys[0],
	})
	m := metrics.New(metrics.Sources{
		Instances: c.db.AllInstances, Hosts: c.db.Hosts, Down: func() []string { return c.reconcile.Down() },
		Published: func() (uint64, uint64) { st := c.publisher.Status(); return st.Published, st.Errors },
		Leader:    func() (bool, uint64) { return c.leader.Leading(), c.leader.Changes() },

		CertExpiry: func() (map[string]float64, error) { return certs.Expiry(c.db, time.Now()) },
	})
	if err := c.openCerts(cfg.ACME); err != nil {
		return nil, err
	}
	c.traffic = traffic.New() // fed in listen, leader or not: a new leader has the figures
	c.scheduler = scheduler.New(c.db, c.leader.Engines(c.engines), scheduler.Config{
		Controller: c.db.ControllerID(), Drain: cfg.Drain, MaxCount: cfg.MaxCount, Rebalance: cfg.Rebalance,
		Logger: c.logger, RoutesChange: c.publisher.Changed, Observer: m,
		Published: func() uint64 { return c.publisher.Status().LastVersion },
		Events:    c.events.Publish, Fence: c.leader, KeepImages: cfg.KeepImages,
		Traffic: c.traffic,
	})
	c.reconcile = scheduler.NewReconciler(c.scheduler, scheduler.ReconcilerConfig{Interval: cfg.Reconcile, Grace: cfg.HostGrace, ProbeInterval: cfg.ProbeInterval})
	c.jobs = scheduler.NewJobRunner(c.scheduler, scheduler.JobRunnerConfig{})
	return m, nil
}

// buildAPI wires the HTTP API over the scheduler and the store.
func (c *ServeCommand) buildAPI(s secrets, m *metrics.Metrics) error {
	forwardTLS, err := cli.TLSConfig(c.Config.CACert)
	if err != nil {
		return fmt.Errorf("%s: %w", setServeCACert, err)
	}
	var elected http.Leadership // none on a data file: it always leads
	if _, ok := c.db.(*etcd.Store); ok {
		elected = c.leader
	}
	c.trafficRx = pubsub.NewTrafficReceiver(pubsub.TrafficReceiverConfig{
		Client: c.redis, Channel: c.Config.Redis.Channel, Keys: s.routesKeys, Cluster: c.db.ClusterID(), Logger: c.logger,
	})
	c.api = http.NewServer(&http.Server{
		Store: c.db, EnvKeys: c.db, Scheduler: c.scheduler, Publisher: c.publisher, Token: s.token, Logger: c.logger,
		Metrics: m.Handler(), Observer: m, Hosts: c.reconcile, Leadership: elected,
		RouterToken: s.routerToken, TableChanged: c.tableChanged, ForwardTLS: forwardTLS,
		Events: c.events, UI: ui.Handler(), Memory: c.scheduler, Disk: c.scheduler,
		AuditKeep: c.Config.AuditKeep, AuditMaxAge: c.Config.AuditMaxAge,
		Traffic: c.traffic,
	})
	return nil
}

// listen opens the API's port, serves it, and starts campaigning (on an
// etcd store) or leading (on a data file).
func (c *ServeCommand) listen(ctx context.Context, tlsConfig *tls.Config) error {
	cfg := c.Config
	var err error
	if c.listener, err = net.Listen("tcp", cfg.Addr()); err != nil {
		return fmt.Errorf("cannot listen on %s (%v): choose another port with --port or PORT", cfg.Addr(), err)
	}
	t := cfg.Timeouts.withDefaults()
	c.server = &nethttp.Server{
		Handler:           c.api,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(c.logger.Handler(), slog.LevelWarn),
		TLSConfig:         tlsConfig,
		ConnState:         c.api.ConnState,
	}
	c.server.RegisterOnShutdown(c.api.EndStreams)
	c.server.RegisterOnShutdown(c.events.Close) // event streams would hold the shutdown up
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
	c.goRun(func() { c.leader.Run(runCtx, c.lead) })
	c.goRun(func() { c.trafficRx.Run(runCtx, func(s cluster.TrafficSummary) { c.traffic.Add(s) }) })
	c.logger.Info("controller listening", "url", c.URL(), "dashboard", c.URL()+"/ui/", "db", cfg.DB, "controller", c.db.ControllerID(),
		"cluster", c.db.ClusterID(), "epoch", c.db.Epoch())
	c.goRun(func() { c.sayWhatIsMissing(runCtx) })
	return nil
}

// lead publishes, reconciles (Docker events included) and runs the
// scheduled jobs until ctx ends: for as long as this controller leads.
func (c *ServeCommand) lead(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { _ = c.publisher.Run(ctx) })
	wg.Go(func() { c.reconcile.Run(ctx) })
	wg.Go(func() { c.jobs.Run(ctx) })
	if c.certs != nil {
		wg.Go(func() { c.certs.Run(ctx) })
	}
	wg.Wait()
}

// sayWhatIsMissing tells, once at start, what the controller is waiting
// for: Redis, hosts, or hosts that do not answer.
func (c *ServeCommand) sayWhatIsMissing(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.redis.Ping(pctx); err != nil && ctx.Err() == nil {
		c.logger.Warn("waiting for Redis: routes are published once it answers; deploys work meanwhile", "redis", c.Config.Redis.Where(), "err", err)
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

// Store, Events, Scheduler and API give in-process tests (and embedders)
// the parts Open wired; they are nil before Open.
func (c *ServeCommand) Store() cluster.Store            { return c.db }
func (c *ServeCommand) Events() *events.Bus             { return c.events }
func (c *ServeCommand) Scheduler() *scheduler.Scheduler { return c.scheduler }
func (c *ServeCommand) API() *http.Server               { return c.api }

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
// 30m) and their answers are sent (at most Timeouts.Shutdown more).
// Whatever is left then is cut.
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
		waitUntil(30*time.Minute, func() bool { return c.api.Rollouts() == 0 })
		waitUntil(t.Shutdown, func() bool { return c.api.Unsent() == 0 })
	}
	c.logger.Warn("shutting down: cutting requests still running", "after", t.Shutdown)
	return c.server.Close()
}

// waitUntil checks done every 20 ms until it holds or limit has passed.
func waitUntil(limit time.Duration, done func() bool) {
	deadline := time.Now().Add(limit)
	for !done() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
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

func certPath(cfg ServeConfig) string {
	if cfg.DockerTLS {
		return cfg.DockerCerts
	}
	return ""
}

// logLevels are the values of --log-level, least first.
var logLevels = []string{"debug", "info", "warn", "error"}

// newLogger returns the daemons' logger: format text or json, level one of
// logLevels (checked by the config).
func newLogger(w io.Writer, format, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// newLeadership returns the leadership of a controller on store: elected
// among the controllers of its prefix on an etcd store, always leading on
// a data file. events is told of its gains and losses.
func newLeadership(store cluster.Store, cfg etcd.ElectionConfig, events func(cluster.Event)) *leadership.Leadership {
	lcfg := leadership.Config{Store: store, ID: cfg.ID, Events: events}
	if s, ok := store.(*etcd.Store); ok {
		lcfg.Election = s.NewElection(cfg)
	}
	return leadership.New(lcfg)
}
