package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"time"

	"github.com/longshoreman/longshoreman/router"
)

// routerLimits are the `longshoreman router` settings that bound slow
// instances and slow or numerous clients.
type routerLimits struct {
	backendTimeout time.Duration
	headerTimeout  time.Duration
	idleTimeout    time.Duration
	minBodyRate    int
	bodyRateWindow time.Duration
	maxConns       int
	trustForwarded string
	trusted        []netip.Prefix // parsed by check
}

// addRouterLimitFlags defines the limit flags on fs, with defaults from the
// environment.
func addRouterLimitFlags(fs *flag.FlagSet, env *envReader) *routerLimits {
	l := &routerLimits{}
	fs.DurationVar(&l.backendTimeout, "backend-timeout", env.Duration("LONGSHOREMAN_BACKEND_TIMEOUT", router.DefaultBackendTimeout), "how long an instance may take to start its answer before the client gets 504 (env LONGSHOREMAN_BACKEND_TIMEOUT)")
	fs.DurationVar(&l.headerTimeout, "header-timeout", env.Duration("LONGSHOREMAN_HEADER_TIMEOUT", router.DefaultHeaderTimeout), "how long a client may take to send a request's headers (env LONGSHOREMAN_HEADER_TIMEOUT)")
	fs.DurationVar(&l.idleTimeout, "idle-timeout", env.Duration("LONGSHOREMAN_IDLE_TIMEOUT", router.DefaultIdleTimeout), "close a client's keep-alive connection idle this long (env LONGSHOREMAN_IDLE_TIMEOUT)")
	fs.IntVar(&l.minBodyRate, "min-body-rate", env.Int("LONGSHOREMAN_MIN_BODY_RATE", router.DefaultMinBodyRate), "slowest request body accepted, bytes/s over --body-rate-window; 0: no minimum (env LONGSHOREMAN_MIN_BODY_RATE)")
	fs.DurationVar(&l.bodyRateWindow, "body-rate-window", env.Duration("LONGSHOREMAN_BODY_RATE_WINDOW", router.DefaultBodyRateWindow), "grace and averaging window of --min-body-rate (env LONGSHOREMAN_BODY_RATE_WINDOW)")
	fs.IntVar(&l.maxConns, "max-conns", env.Int("LONGSHOREMAN_MAX_CONNS", router.DefaultMaxConns), "client connections open at once; more wait to be accepted; 0: no cap (env LONGSHOREMAN_MAX_CONNS)")
	fs.StringVar(&l.trustForwarded, "trust-forwarded", env.get("LONGSHOREMAN_TRUST_FORWARDED"), "CIDR,... of proxies in front of the router whose X-Forwarded-For chain is kept; default none: an edge router (env LONGSHOREMAN_TRUST_FORWARDED)")
	return l
}

// check refuses values out of range with a message naming the flag.
func (l *routerLimits) check() error {
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{
		{"--backend-timeout", l.backendTimeout}, {"--header-timeout", l.headerTimeout},
		{"--idle-timeout", l.idleTimeout}, {"--body-rate-window", l.bodyRateWindow},
	} {
		if d.v <= 0 {
			return fmt.Errorf("%s must be a duration above zero such as 30s, not %s", d.flag, d.v)
		}
	}
	if l.minBodyRate < 0 {
		return fmt.Errorf("--min-body-rate must be bytes per second, 0 or more (0 turns it off), not %d", l.minBodyRate)
	}
	if l.maxConns < 0 {
		return fmt.Errorf("--max-conns must be 0 or more (0: no cap), not %d", l.maxConns)
	}
	var err error
	if l.trusted, err = router.ParseTrustedProxies(l.trustForwarded); err != nil {
		return fmt.Errorf("--trust-forwarded: %w; give comma-separated networks such as 10.0.0.0/8,192.0.2.1", err)
	}
	return nil
}

// run runs the router with the checked limits set in cfg.
func (l *routerLimits) run(ctx context.Context, cfg router.RunConfig) error {
	cfg.Router.BackendTimeout = l.backendTimeout
	cfg.Router.BodyRateWindow = l.bodyRateWindow
	cfg.Router.MinBodyRate = int64(l.minBodyRate)
	if l.minBodyRate == 0 {
		cfg.Router.MinBodyRate = -1 // router.Config: negative turns it off
	}
	cfg.Router.TrustForwarded = l.trusted
	cfg.HeaderTimeout, cfg.IdleTimeout = l.headerTimeout, l.idleTimeout
	cfg.MaxConns = l.maxConns
	if l.maxConns == 0 {
		cfg.MaxConns = -1 // router.RunConfig: negative is no cap
	}
	if cfg.Logger != nil {
		cfg.Logger.Info("router limits", "backend_timeout", l.backendTimeout, "header_timeout", l.headerTimeout,
			"idle_timeout", l.idleTimeout, "min_body_rate", l.minBodyRate, "body_rate_window", l.bodyRateWindow,
			"max_conns", l.maxConns, "trust_forwarded", l.trusted)
	}
	return router.Run(ctx, cfg)
}
