package router

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/pubsub"
)

// DefaultShutdownTimeout is how long Run lets requests under way finish.
const DefaultShutdownTimeout = 30 * time.Second

// Defaults for RunConfig's client-side limits.
const (
	DefaultHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout   = 120 * time.Second
	DefaultMaxConns      = 10000
)

// RunConfig is what `longshoreman router` passes to Run.
type RunConfig struct {
	// Addr is the address to listen on; default ":80".
	Addr string
	// Listener, when set, is used instead of listening on Addr; Run closes it.
	Listener net.Listener
	// Redis is the connection to the PubSub server (required). Run does not
	// close it.
	Redis *pubsub.Client
	// Channel is the PubSub channel; default cluster.DefaultChannel.
	Channel string
	// Logger receives the router's and the subscriber's logs.
	Logger *slog.Logger
	// Router tunes the proxy; its Logger defaults to Logger.
	Router Config
	// ShutdownTimeout bounds the graceful shutdown; default 30s.
	ShutdownTimeout time.Duration
	// Ready, when set, is called with the router once it listens (tests,
	// status endpoints).
	Ready func(*Router, net.Addr)
	// Keys verify the routing tables' signatures (required; see
	// pubsub.ParseKeys).
	Keys [][]byte
	// StateDir keeps the id of the cluster served (file "cluster") across
	// restarts. Empty: the cluster is kept in memory only.
	StateDir string
	// Cluster, when set, is the cluster to serve, replacing the kept one.
	Cluster string
	// HeaderTimeout bounds reading a request's headers (slow clients);
	// default 10s.
	HeaderTimeout time.Duration
	// IdleTimeout closes a client's keep-alive connection idle this long
	// between requests; default 120s.
	IdleTimeout time.Duration
	// MaxConns caps the client connections open at once; more wait to be
	// accepted (see capConns). Default DefaultMaxConns; negative: no
	// cap.
	MaxConns int

	// HTTPSAddr, when set, is the address of the HTTPS listener; HTTPS is
	// off when it and HTTPSListener are both empty.
	HTTPSAddr string
	// HTTPSListener, when set, is used instead of listening on HTTPSAddr;
	// Run closes it.
	HTTPSListener net.Listener
	// Controller is the controller's API URL the certificates are
	// fetched from (GET /router/certs); RouterToken authenticates it.
	// Without it the router serves the certificates of its cache only.
	Controller string
	// RouterToken is the router token: the router fetches its
	// certificates with it, and shows its full status (StatusPath) only
	// to a request that carries it. Empty: the status says ok / not ok
	// only.
	RouterToken string
	// ControllerTLS verifies an https Controller; nil: the system's CAs.
	ControllerTLS *tls.Config
	// TrafficInterval is how often the router sends the controllers its
	// traffic summary; default cluster.TrafficInterval. Router.NoTraffic
	// turns the counting and the summaries off.
	TrafficInterval time.Duration
}

// Run serves the router until ctx ends: it subscribes to the routing table
// and proxies on Addr. When ctx ends it stops accepting connections, lets
// requests under way finish (up to ShutdownTimeout) and returns nil. It
// returns an error when it cannot listen or the server fails.
func Run(ctx context.Context, cfg RunConfig) error {
	d, err := Open(cfg)
	if err != nil {
		return err
	}
	var failed error
	select {
	case failed = <-d.serveErr:
	case <-ctx.Done():
	}
	if err := d.Close(); failed == nil {
		failed = err
	}
	return failed
}

// Daemon is a running router: its listeners, the subscriber feeding it
// tables, and the certificate source of its HTTPS port. Open starts it and
// Close stops it, as the controller's command does.
type Daemon struct {
	cfg     RunConfig
	r       *Router
	state   *state
	certs   *certSource // nil with HTTPS off
	sub     *pubsub.Subscriber
	servers []*listenerServer

	serveErr chan error     // a listener's server that stopped on its own
	stopSub  func()         // ends the subscriber, the table keeper, the certificate fetches and the traffic summaries
	wg       sync.WaitGroup // those four
}

// Open checks cfg, listens, applies the table kept by the last run, and
// starts the subscriber and the servers; it returns once the router
// listens. Close stops it.
func Open(cfg RunConfig) (*Daemon, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, serveErr: make(chan error, 2), stopSub: func() {}}
	if d.state, err = openState(cfg.StateDir, cfg.Cluster); err != nil {
		return nil, err
	}
	if d.state.cluster != "" {
		cfg.Logger.Info("serving the kept cluster", "cluster", d.state.cluster, "state_dir", cfg.StateDir)
	} else if cfg.StateDir == "" {
		cfg.Logger.Warn("no state directory: the cluster served is kept in memory only, so after a restart this router takes the first cluster it hears; give one with --state-dir")
	}
	ln, tlsLn, err := d.listen()
	if err != nil {
		return nil, err
	}
	floor := d.applyKeptTable()
	d.sub = pubsub.NewSubscriber(pubsub.SubscriberConfig{Client: cfg.Redis, Channel: cfg.Channel, Logger: cfg.Logger,
		Keys: cfg.Keys, Cluster: d.state.cluster, Adopt: d.state.keep, Floor: floor})
	d.subscribe()
	d.serve(ln, tlsLn)
	if cfg.Ready != nil {
		cfg.Ready(d.r, ln.Addr())
	}
	return d, nil
}

// withDefaults refuses a config without its required parts and fills in
// the defaults.
func (cfg RunConfig) withDefaults() (RunConfig, error) {
	if cfg.Redis == nil {
		return cfg, errors.New("router: RunConfig needs a Redis client")
	}
	if len(cfg.Keys) == 0 {
		return cfg, errors.New("router: RunConfig needs the routes keys")
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	cfg.Router.Logger = cmp.Or(cfg.Router.Logger, cfg.Logger)
	cfg.Addr = cmp.Or(cfg.Addr, ":80")
	cfg.ShutdownTimeout = positiveOr(cfg.ShutdownTimeout, DefaultShutdownTimeout)
	cfg.HeaderTimeout = positiveOr(cfg.HeaderTimeout, DefaultHeaderTimeout)
	cfg.IdleTimeout = positiveOr(cfg.IdleTimeout, DefaultIdleTimeout)
	cfg.MaxConns = cmp.Or(cfg.MaxConns, DefaultMaxConns)
	return cfg, nil
}

// listen opens the HTTP listener and, with HTTPS on, the HTTPS one and the
// certificate source; both are capped and hold clients to the read rate.
func (d *Daemon) listen() (ln, tlsLn net.Listener, err error) {
	cfg := d.cfg
	if ln = cfg.Listener; ln == nil {
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return nil, nil, err
		}
	}
	ln = capConns(ln, cfg.MaxConns)
	if tlsLn = cfg.HTTPSListener; tlsLn == nil && cfg.HTTPSAddr != "" {
		if tlsLn, err = net.Listen("tcp", cfg.HTTPSAddr); err != nil {
			ln.Close()
			return nil, nil, fmt.Errorf("cannot listen for HTTPS on %s (%v): free the port or give another with --https-port", cfg.HTTPSAddr, err)
		}
	}
	d.r = New(cfg.Router)
	ln = d.r.readRateListener(ln)
	if tlsLn != nil {
		tlsLn = d.r.readRateListener(capConns(tlsLn, cfg.MaxConns))
		d.certs = newCertSource(cfg.Controller, cfg.RouterToken, ControllerClient(cfg.ControllerTLS), cfg.StateDir, cfg.Logger)
		d.certs.loadCache()
		if cfg.Controller == "" {
			cfg.Logger.Warn("no controller URL: HTTPS serves the cached certificates only; set LONGSHOREMAN_URL and LONGSHOREMAN_ROUTER_TOKEN")
		}
	} else if cfg.Controller != "" {
		cfg.Logger.Info("a controller URL is set but HTTPS is off: certificates are not fetched; give --https-port to serve HTTPS")
	}
	return ln, tlsLn, nil
}

// applyKeptTable serves the table the last run kept until the controller's
// next one: a router restarted while the controller or Redis is away keeps
// serving its apps. It returns that table as the subscriber's floor (an
// older table, however well signed, is a replay), or nil.
func (d *Daemon) applyKeptTable() *cluster.RoutingTable {
	t, ok, err := d.state.keptTable()
	if err != nil {
		d.cfg.Logger.Warn("the kept routing table is not served", "err", err)
		return nil
	}
	if !ok {
		return nil
	}
	d.apply(t)
	d.cfg.Logger.Info("serving the routing table kept by the last run until a newer one is heard", "epoch", t.Epoch, "version", t.Version, "apps", len(t.Routes))
	return &t
}

func (d *Daemon) apply(t cluster.RoutingTable) {
	d.r.Apply(t)
	if d.certs != nil {
		d.certs.tableCerts(t.Certs)
	}
}

// subscribe starts the subscriber, the keeper of the tables applied (kept
// in the state directory off the apply path) and the certificate fetches.
func (d *Daemon) subscribe() {
	subCtx, stop := context.WithCancel(context.Background())
	d.stopSub = stop
	keep := make(chan cluster.RoutingTable, 1)
	d.wg.Go(func() {
		_ = d.sub.Run(subCtx, func(t cluster.RoutingTable) {
			d.apply(t)
			putLatest(keep, t)
		})
	})
	d.wg.Go(func() {
		for {
			select {
			case <-subCtx.Done():
				return
			case t := <-keep:
				if err := d.state.keepTable(t); err != nil {
					d.cfg.Logger.Warn("the routing table applied could not be kept for a restart", "err", err)
				}
			}
		}
	})
	if d.certs != nil {
		d.wg.Go(func() { d.certs.run(subCtx) })
	}
	if !d.cfg.Router.NoTraffic {
		send := pubsub.NewTrafficSender(d.cfg.Redis, d.cfg.Channel, d.cfg.Keys[0], d.cfg.Logger)
		ts := &TrafficSender{Router: d.r, ID: NewRouterID(), Interval: d.cfg.TrafficInterval,
			Cluster: func() string { return d.sub.Status().Cluster }, Send: send.Send}
		d.wg.Go(func() { ts.Run(subCtx) })
	}
}

// serve starts a server on each listener.
func (d *Daemon) serve(ln, tlsLn net.Listener) {
	cfg := d.cfg
	httpsPort := 0
	if tlsLn != nil {
		if ta, ok := tlsLn.Addr().(*net.TCPAddr); ok {
			httpsPort = ta.Port
		}
	}
	handler := statusHandler{next: httpsFront{r: d.r, certs: d.certs, httpsPort: httpsPort, next: d.r}, r: d.r, sub: d.sub, certs: d.certs,
		token: cfg.RouterToken}
	newServer := func() *http.Server {
		return &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: cfg.HeaderTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			MaxHeaderBytes:    1 << 20,
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
			// No ReadTimeout or WriteTimeout: uploads, long polls and
			// streams pass through; the apps set their own limits. The
			// router's minimum body and read rates and backend timeout
			// catch the stuck ones.
		}
	}
	d.servers = []*listenerServer{{ln: ln, srv: newServer()}}
	if tlsLn != nil {
		srv := newServer()
		srv.Handler = withTLSState{next: handler}
		srv.ConnContext = handedTLSContext
		d.servers = append(d.servers, &listenerServer{ln: tlsLn, srv: srv, tls: ServerTLSConfig(d.certs.GetCertificate)})
	}
	for _, s := range d.servers {
		s.start(cfg.Router.ReverseProxyOnly, cfg.Logger, d.serveErr)
	}
	cfg.Logger.Info("router listening", "addr", ln.Addr().String())
	if tlsLn != nil {
		cfg.Logger.Info("router listening for HTTPS", "addr", tlsLn.Addr().String(), "controller", cfg.Controller)
	}
}

// Router returns the router the daemon serves.
func (d *Daemon) Router() *Router { return d.r }

// Addr returns the address of the HTTP listener.
func (d *Daemon) Addr() net.Addr { return d.servers[0].ln.Addr() }

// Failed delivers the error of a server that stopped on its own (a
// listener failed); Close is still to be called.
func (d *Daemon) Failed() <-chan error { return d.serveErr }

// Close stops accepting connections, lets requests under way finish (up to
// ShutdownTimeout), then stops the subscriber. It returns the error of a
// server that did not stop cleanly.
func (d *Daemon) Close() error {
	d.cfg.Logger.Info("router shutting down", "timeout", d.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), d.cfg.ShutdownTimeout)
	defer cancel()
	errs := make(chan error, len(d.servers))
	for _, s := range d.servers {
		go func() { errs <- s.shutdown(sctx) }()
	}
	var err error
	for range d.servers {
		if e := <-errs; err == nil {
			err = e
		}
	}
	d.stopSub()
	d.wg.Wait()
	return err
}

// listenerServer serves one listener, plain or TLS, with the loop or (with
// ReverseProxyOnly) with the http.Server alone.
type listenerServer struct {
	ln      net.Listener
	srv     *http.Server
	tls     *tls.Config // nil: plain HTTP
	loop    *connServer
	stopped chan struct{}
}

func (s *listenerServer) start(serverOnly bool, log *slog.Logger, serveErr chan<- error) {
	s.stopped = make(chan struct{})
	serve := func() error {
		if serverOnly {
			if s.tls != nil {
				return s.srv.Serve(tls.NewListener(s.ln, s.tls))
			}
			return s.srv.Serve(s.ln)
		}
		return s.loop.serve(s.ln)
	}
	if !serverOnly {
		s.loop = newConnServer(s.srv.Handler, s.srv, log)
		s.loop.tlsConfig = s.tls
	}
	go func() {
		defer close(s.stopped)
		err := serve()
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		serveErr <- err
	}()
}

func (s *listenerServer) shutdown(ctx context.Context) error {
	var err error
	if s.loop != nil {
		s.ln.Close()
		err = s.loop.shutdown(ctx)
	} else {
		err = s.srv.Shutdown(ctx)
	}
	<-s.stopped
	return err
}

// Serve serves srv's Handler on l until ctx ends, with the connection
// loop that Run uses: plain GET and HEAD requests are read and answered
// by the router's own code, everything else by srv, which must have no
// listener of its own. With srv.TLSConfig set (see ServerTLSConfig) every
// connection is TLS, as on Run's HTTPS port: HTTP/1.1 on the loop,
// HTTP/2 by srv. When ctx ends it shuts down as Run does, waiting up to
// shutdownTimeout. When srv.Handler is a *Router, its MinReadRate holds
// on every connection, as in Run. Benchmarks and embedders use it.
func Serve(ctx context.Context, l net.Listener, srv *http.Server, log *slog.Logger, shutdownTimeout time.Duration) error {
	if log == nil {
		log = slog.Default()
	}
	h := srv.Handler
	if r, ok := h.(*Router); ok {
		l = r.readRateListener(l)
	}
	if srv.TLSConfig != nil {
		srv.Handler = withTLSState{next: h}
		srv.ConnContext = handedTLSContext
	}
	loop := newConnServer(h, srv, log)
	loop.tlsConfig = srv.TLSConfig
	serveErr := make(chan error, 1)
	go func() { serveErr <- loop.serve(l) }()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	l.Close()
	err := loop.shutdown(sctx)
	<-serveErr
	return err
}
