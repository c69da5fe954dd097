package command

import (
	"fmt"
	"time"

	"github.com/longshoreman/longshoreman/router"
)

// RouterLimits are the `longshoreman router` settings that bound slow
// instances and slow or numerous clients.
type RouterLimits struct {
	BackendTimeout time.Duration
	HeaderTimeout  time.Duration
	IdleTimeout    time.Duration
	MinBodyRate    int // bytes/s; 0: no minimum
	MinReadRate    int // bytes/s; 0: no minimum
	BodyRateWindow time.Duration
	MaxConns       int    // 0: no cap
	TrustForwarded string // CIDR,...
}

// DefaultRouterLimits are the router package's defaults.
func DefaultRouterLimits() RouterLimits {
	return RouterLimits{
		BackendTimeout: router.DefaultBackendTimeout, HeaderTimeout: router.DefaultHeaderTimeout,
		IdleTimeout: router.DefaultIdleTimeout, MinBodyRate: router.DefaultMinBodyRate, MinReadRate: router.DefaultMinReadRate,
		BodyRateWindow: router.DefaultBodyRateWindow, MaxConns: router.DefaultMaxConns,
	}
}

func (l *RouterLimits) load(ld *loader) {
	ld.Duration(&l.BackendTimeout, setBackendTimeout)
	ld.Duration(&l.HeaderTimeout, setHeaderTimeout)
	ld.Duration(&l.IdleTimeout, setIdleTimeout)
	ld.Int(&l.MinBodyRate, setMinBodyRate)
	ld.Int(&l.MinReadRate, setMinReadRate)
	ld.Duration(&l.BodyRateWindow, setBodyRateWindow)
	ld.Int(&l.MaxConns, setMaxConns)
	ld.String(&l.TrustForwarded, setTrustForwarded)
}

// check refuses values out of range, each naming its setting.
func (l RouterLimits) check(p *problems) {
	p.positive(setBackendTimeout, l.BackendTimeout, "60s")
	p.positive(setHeaderTimeout, l.HeaderTimeout, "10s")
	p.positive(setIdleTimeout, l.IdleTimeout, "2m")
	p.positive(setBodyRateWindow, l.BodyRateWindow, "10s")
	if l.MinBodyRate < 0 {
		p.add(setMinBodyRate, "must be bytes per second, 0 or more (0 turns it off), not %d", l.MinBodyRate)
	}
	if l.MinReadRate < 0 {
		p.add(setMinReadRate, "must be bytes per second, 0 or more (0 turns it off), not %d", l.MinReadRate)
	}
	if l.MaxConns < 0 {
		p.add(setMaxConns, "must be 0 or more (0: no cap), not %d", l.MaxConns)
	}
	if _, err := router.ParseTrustedProxies(l.TrustForwarded); err != nil {
		p.add(setTrustForwarded, "is not usable: %v; give comma-separated networks such as 10.0.0.0/8,192.0.2.1", err)
	}
}

// apply sets the limits in cfg, logging them.
func (l RouterLimits) apply(cfg *router.RunConfig) error {
	trusted, err := router.ParseTrustedProxies(l.TrustForwarded)
	if err != nil {
		return fmt.Errorf("%s: %w", setTrustForwarded, err)
	}
	cfg.Router.BackendTimeout = l.BackendTimeout
	cfg.Router.BodyRateWindow = l.BodyRateWindow
	cfg.Router.MinBodyRate = int64(l.MinBodyRate)
	if l.MinBodyRate == 0 {
		cfg.Router.MinBodyRate = -1 // router.Config: negative turns it off
	}
	cfg.Router.MinReadRate = int64(l.MinReadRate)
	if l.MinReadRate == 0 {
		cfg.Router.MinReadRate = -1
	}
	cfg.Router.TrustForwarded = trusted
	cfg.HeaderTimeout, cfg.IdleTimeout = l.HeaderTimeout, l.IdleTimeout
	cfg.MaxConns = l.MaxConns
	if l.MaxConns == 0 {
		cfg.MaxConns = -1 // router.RunConfig: negative is no cap
	}
	if cfg.Logger != nil {
		cfg.Logger.Info("router limits", "backend_timeout", l.BackendTimeout, "header_timeout", l.HeaderTimeout,
			"idle_timeout", l.IdleTimeout, "min_body_rate", l.MinBodyRate, "min_read_rate", l.MinReadRate, "body_rate_window", l.BodyRateWindow,
			"max_conns", l.MaxConns, "trust_forwarded", trusted)
	}
	return nil
}
