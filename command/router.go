package command

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"

	"github.com/longshoreman/longshoreman/pubsub"
	"github.com/longshoreman/longshoreman/router"
)

// RouterConfig is the configuration of `longshoreman router`:
// DefaultRouterConfig, then LoadRouterConfig's environment and flags, then
// Validate.
type RouterConfig struct {
	Port      int    // --port, PORT; used when Listen is empty
	Listen    string // host:port; overrides Port
	Redis     RedisConfig
	RoutesKey string // LONGSHOREMAN_ROUTES_KEY: the keys accepted, comma-separated; required
	StateDir  string
	Cluster   string
	LogFormat string
	LogLevel  string // debug, info, warn or error
	Limits    RouterLimits
	HTTPS     RouterHTTPS
}

// DefaultRouterConfig is what the router runs with when nothing is set
// (but the routes key, which it needs).
func DefaultRouterConfig() RouterConfig {
	return RouterConfig{Port: 80, Redis: DefaultRedisConfig(), LogFormat: "text", LogLevel: "info", Limits: DefaultRouterLimits()}
}

const routerAbout = `Run an HTTP router: it proxies requests by their Host header to the app's instances,
using the routing table the controller publishes over Redis PubSub. With --https-port it
also serves HTTPS, with certificates fetched from the controller (LONGSHOREMAN_URL, https://
unless it is this machine or --insecure-controller is given, and LONGSHOREMAN_ROUTER_TOKEN)
and cached in --state-dir.

Usage: longshoreman router [flags]

Flags (each also read from the environment variable named):
`

// LoadRouterConfig reads the environment (getenv), then the flags in args,
// over DefaultRouterConfig, and validates the result.
func LoadRouterConfig(args []string, getenv func(string) string, output io.Writer) (RouterConfig, error) {
	c := DefaultRouterConfig()
	l := newLoader("longshoreman router", routerAbout, getenv, output)
	l.Int(&c.Port, setRouterPort)
	l.String(&c.Listen, setListen)
	c.Redis.load(l)
	l.String(&c.LogFormat, setLogFormat)
	l.String(&c.LogLevel, setLogLevel)
	l.String(&c.RoutesKey, setRoutesKey)
	l.String(&c.StateDir, setStateDir)
	l.String(&c.StateDir, setRouterState)
	l.String(&c.Cluster, setRouterCluster)
	c.Limits.load(l)
	c.HTTPS.load(l)
	if err := l.parse(args); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Addr is the address the router listens on: Listen, or every address on Port.
func (c RouterConfig) Addr() string { return listenAddr(c.Listen, c.Port) }

// Validate reports every value out of its range, each naming its flag and
// environment variable and saying what is allowed.
func (c RouterConfig) Validate() error {
	var p problems
	p.listen(setRouterPort, c.Port, c.Listen)
	c.Redis.check(&p)
	p.oneOf(setLogFormat, c.LogFormat, "text", "json")
	p.oneOf(setLogLevel, c.LogLevel, logLevels...)
	c.Limits.check(&p)
	c.HTTPS.check(&p, c.Addr())
	if c.RoutesKey == "" {
		p.add(setRoutesKey, "is not set: the router accepts only routing tables signed with the controller's routes key; print it with `longshoreman token --routes-key` on the controller's machine and set it in the router's environment (for systemd, in /etc/longshoreman/env)")
	} else if _, err := pubsub.ParseKeys(c.RoutesKey); err != nil {
		p.add(setRoutesKey, "is not usable: %v; print the controller's with `longshoreman token --routes-key`", err)
	}
	return p.err()
}

// RouterCommand runs an HTTP router fed by the routing table over Redis.
// It has the controller's shape: ParseFlags, Open (returns once the router
// listens), Close; Run is the three around a signal.
type RouterCommand struct {
	Stderr io.Writer
	Getenv func(string) string
	Config RouterConfig

	logger *slog.Logger
	redis  *pubsub.Client
	daemon *router.Daemon
}

// Run loads the configuration and runs the router until ctx ends or a
// listener fails.
func (c *RouterCommand) Run(ctx context.Context, args []string) error {
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	if err := c.Open(); err != nil {
		c.Close()
		return err
	}
	var failed error
	select {
	case <-ctx.Done():
	case failed = <-c.daemon.Failed():
	}
	return errors.Join(failed, c.Close())
}

// ParseFlags loads c.Config from the environment and the flags in args,
// and validates it.
func (c *RouterCommand) ParseFlags(args []string) error {
	cfg, err := LoadRouterConfig(args, c.Getenv, c.Stderr)
	if err != nil {
		return err
	}
	c.Config = cfg
	return nil
}

// Open starts the router: it listens, serves the table its state directory
// kept, and subscribes to the controller's tables.
func (c *RouterCommand) Open() error {
	cfg := c.Config
	if err := cfg.Validate(); err != nil {
		return err
	}
	keys, err := pubsub.ParseKeys(cfg.RoutesKey)
	if err != nil {
		return err // Validate has refused it already
	}
	c.logger = newLogger(c.Stderr, cfg.LogFormat, cfg.LogLevel)
	c.redis = cfg.Redis.Client()
	c.logger.Info("router starting", "addr", cfg.Addr(), "redis", cfg.Redis.Where(), "channel", cfg.Redis.Channel, "state_dir", cfg.StateDir)
	run := router.RunConfig{
		Addr: cfg.Addr(), Redis: c.redis, Channel: cfg.Redis.Channel, Logger: c.logger,
		Keys: keys, StateDir: cfg.StateDir, Cluster: cfg.Cluster,
		RouterToken: cfg.HTTPS.Token, // also with HTTPS off: it shows the full status
	}
	if err := cfg.Limits.apply(&run); err != nil {
		return err
	}
	if err := cfg.HTTPS.apply(&run, cfg.Listen); err != nil {
		return err
	}
	c.daemon, err = router.Open(run)
	return err
}

// Addr returns the address the router listens on, for tests.
func (c *RouterCommand) Addr() net.Addr { return c.daemon.Addr() }

// Close stops the router gracefully (requests under way finish) and closes
// its Redis client.
func (c *RouterCommand) Close() error {
	var err error
	if c.daemon != nil {
		err = c.daemon.Close()
	}
	if c.redis != nil {
		_ = c.redis.Close()
	}
	return err
}
