// Package docker implements scheduler.Engines over the Docker Engine API:
// each host is an IP address whose dockerd listens on tcp://IP:PORT. It owns
// one API client per host (created on first use, API version negotiated, so
// an old dockerd such as Debian's 20.10 with API 1.41 works), the container
// labels, and the translation of Docker's answers and failures into
// cluster types and *cluster.Error values a person can act on.
package docker

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	dockerclient "github.com/docker/docker/client"

	"github.com/longshoreman/longshoreman/cluster"
)

// Defaults for what Config leaves zero.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultDialTimeout = 3 * time.Second
)

// Config says how to reach the hosts' Docker APIs.
type Config struct {
	// Port is the Docker API port on every host (cluster.DefaultDockerPort
	// when zero).
	Port int
	// TLS, when set, is used for every host (https). CertPath, when set and
	// TLS is nil, names a directory with Docker's ca.pem, cert.pem and
	// key.pem, as DOCKER_CERT_PATH does.
	TLS      *tls.Config
	CertPath string
	// Controller is written in LabelController on the containers Run
	// creates when the spec leaves it empty.
	Controller string
	// Timeout bounds each call that should end quickly (everything except
	// Pull, Logs streaming and Events, which only ctx bounds); DefaultTimeout
	// when zero.
	Timeout time.Duration
	// Auth, when set, returns the credentials stored for a registry
	// address ("registry.example.com:5000", "docker.io"); Pull sends them to
	// the daemon. They are never logged.
	Auth func(registry string) (username, password string, ok bool)
	// DialTimeout bounds connecting to a host, so an unreachable host fails
	// fast; DefaultDialTimeout when zero.
	DialTimeout time.Duration
}

// Engines talks to the Docker hosts. It is safe for concurrent use.
type Engines struct {
	cfg Config

	mu      sync.Mutex                      // guards clients
	clients map[string]*dockerclient.Client // by host address
}

// New returns Engines for cfg. It does not contact any host.
func New(cfg Config) *Engines {
	if cfg.Port == 0 {
		cfg.Port = cluster.DefaultDockerPort
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	return &Engines{cfg: cfg, clients: map[string]*dockerclient.Client{}}
}

// Close closes every host's client.
func (e *Engines) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for host, c := range e.clients {
		_ = c.Close()
		delete(e.clients, host)
	}
	return nil
}

// endpoint returns the host's Docker API address, IP:PORT.
func (e *Engines) endpoint(host string) string {
	return net.JoinHostPort(host, strconv.Itoa(e.cfg.Port))
}

// client returns the host's cached client, creating it on first use.
func (e *Engines) client(host string) (*dockerclient.Client, error) {
	if net.ParseIP(host) == nil {
		return nil, cluster.Errorf(cluster.EINVALID, "Host %q is not an IP address.", host)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.clients[host]; ok {
		return c, nil
	}
	dialer := &net.Dialer{Timeout: e.cfg.DialTimeout, KeepAlive: 30 * time.Second}
	opts := []dockerclient.Opt{
		dockerclient.WithHost("tcp://" + e.endpoint(host)),
		dockerclient.WithAPIVersionNegotiation(),
	}
	switch {
	case e.cfg.TLS != nil:
		// A transport of our own: WithHost configured a plain one.
		opts = append(opts, dockerclient.WithHTTPClient(&http.Client{Transport: &http.Transport{
			TLSClientConfig:     e.cfg.TLS.Clone(),
			DialContext:         dialer.DialContext,
			TLSHandshakeTimeout: e.cfg.DialTimeout,
			IdleConnTimeout:     90 * time.Second,
		}}), dockerclient.WithScheme("https"))
	case e.cfg.CertPath != "":
		opts = append(opts, dockerclient.WithTLSClientConfig(
			e.cfg.CertPath+"/ca.pem", e.cfg.CertPath+"/cert.pem", e.cfg.CertPath+"/key.pem"),
			dockerclient.WithDialContext(dialer.DialContext))
	default:
		opts = append(opts, dockerclient.WithDialContext(dialer.DialContext))
	}
	c, err := dockerclient.NewClientWithOpts(opts...)
	if err != nil {
		return nil, cluster.Errorf(cluster.EHOST, "Cannot set up a Docker client for %s: %v. Check DOCKER_CERT_PATH and the Docker port.", e.endpoint(host), err)
	}
	e.clients[host] = c
	return c, nil
}

// bounded returns ctx limited by the configured per-call timeout.
func (e *Engines) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, e.cfg.Timeout)
}

// hostError turns a failure of a call to host into a *cluster.Error: EHOST
// saying which host and what to check, ENOTFOUND for a missing object and
// EINVALID for a request Docker refused as invalid. what says what was
// being done ("start the container").
func (e *Engines) hostError(host, what string, err error) error {
	if err == nil {
		return nil
	}
	var ce *cluster.Error
	if errors.As(err, &ce) {
		return err
	}
	ep := e.endpoint(host)
	if terr := e.tlsError(ep, err); terr != nil {
		return terr
	}
	switch {
	case isUnreachable(err):
		return cluster.Errorf(cluster.EHOST, "Docker on %s did not answer: %v; check that dockerd listens on tcp://%s and that the address is reachable.", ep, err, ep)
	case errors.Is(err, context.DeadlineExceeded):
		return cluster.Errorf(cluster.EHOST, "Docker on %s did not %s in time: %v; check that the host is not overloaded and that tcp://%s is reachable.", ep, what, err, ep)
	case errors.Is(err, context.Canceled):
		return cluster.Errorf(cluster.EHOST, "Docker on %s: %s was cancelled.", ep, what)
	case cerrdefs.IsNotFound(err):
		return cluster.Errorf(cluster.ENOTFOUND, "Docker on %s could not %s: %v.", ep, what, err)
	case cerrdefs.IsInvalidArgument(err):
		return cluster.Errorf(cluster.EINVALID, "Docker on %s refused to %s: %v.", ep, what, err)
	}
	return cluster.Errorf(cluster.EHOST, "Docker on %s failed to %s: %v.", ep, what, err)
}

func isNetError(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &oe) || (errors.As(err, &ne) && ne.Timeout())
}

// Ping checks that the host's Docker API answers.
func (e *Engines) Ping(ctx context.Context, host string) error {
	c, err := e.client(host)
	if err != nil {
		return err
	}
	ctx, cancel := e.bounded(ctx)
	defer cancel()
	_, err = c.Ping(ctx)
	return e.hostError(host, "answer a ping", err)
}

// FreeMemory returns the host's total memory as Docker reports it
// (Info.MemTotal). Docker does not report what containers use without a
// stats call per container, so this is the capacity, not what is left:
// placement subtracts the memory limits of the instances it placed there.
func (e *Engines) FreeMemory(ctx context.Context, host string) (int64, error) {
	c, err := e.client(host)
	if err != nil {
		return 0, err
	}
	ctx, cancel := e.bounded(ctx)
	defer cancel()
	info, err := c.Info(ctx)
	if err != nil {
		return 0, e.hostError(host, "report its memory", err)
	}
	return info.MemTotal, nil
}

// isUnreachable reports whether err says the Docker API itself could not be
// reached (as opposed to Docker answering with a failure).
func isUnreachable(err error) bool {
	return dockerclient.IsErrConnectionFailed(err) || isNetError(err)
}

// tlsError says what to fix when err is a TLS mismatch between the
// controller and the daemon at ep, and returns nil for any other error.
// Docker's client reports these as connection failures, which would send
// the operator looking at the network instead of the certificates.
func (e *Engines) tlsError(ep string, err error) error {
	certs := "DOCKER_CERT_PATH"
	if e.cfg.CertPath != "" {
		certs += " (" + e.cfg.CertPath + ")"
	}
	var verr *tls.CertificateVerificationError
	var rerr tls.RecordHeaderError
	var oerr *net.OpError
	switch {
	case errors.As(err, &verr):
		return cluster.Errorf(cluster.EHOST, "Docker on %s presented a TLS certificate the controller does not trust: %v. Check that %s holds in ca.pem the CA that signed the daemon's --tlscert, and that this certificate is issued for the host's IP address (an IP SAN).", ep, verr.Err, certs)
	case errors.As(err, &oerr) && oerr.Op == "remote error":
		return cluster.Errorf(cluster.EHOST, "Docker on %s refused the controller's TLS client certificate (%v). Check that %s holds cert.pem and key.pem signed by the CA the daemon trusts (its --tlscacert).", ep, oerr.Err, certs)
	case errors.As(err, &rerr), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return cluster.Errorf(cluster.EHOST, "Docker on %s does not speak TLS, but the controller uses TLS (DOCKER_TLS_VERIFY is set). Unset DOCKER_TLS_VERIFY, or set DOCKER_PORT to the daemon's TLS port (usually 2376).", ep)
	case strings.Contains(err.Error(), "Client sent an HTTP request to an HTTPS server"):
		return cluster.Errorf(cluster.EHOST, "Docker on %s requires TLS, but the controller speaks plain HTTP to it. Set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to a directory with ca.pem, cert.pem and key.pem, or set DOCKER_PORT to the daemon's plain port.", ep)
	}
	return nil
}
