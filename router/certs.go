package router

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// The router's certificates come from the controller's API (GET
// /router/certs with the router token), never over Redis: the routing
// table only says which version of them is current (RoutingTable.Certs).
// They are kept in <state-dir>/certs.json (0600) so that a router
// restarted while the controller is away still serves HTTPS. No key and no
// chain is ever logged or shown in the status.

// CertsPath is the controller's endpoint the router fetches its
// certificates from.
const CertsPath = "/router/certs"

// certsFile is the cache of the certificates in the state directory.
const certsFile = "certs.json"

// Fetch timings: every CertRefresh the router fetches even if the table
// says nothing changed; after a failure it retries after certRetryMin,
// doubling up to certRetryMax.
const (
	CertRefresh  = 10 * time.Minute
	certRetryMin = time.Second
	certRetryMax = 5 * time.Minute
	// maxCertSet bounds the answer read from the controller.
	maxCertSet = 32 << 20
	// certFetchTimeout bounds one fetch.
	certFetchTimeout = 30 * time.Second
)

// heldCert is one certificate the router serves.
type heldCert struct {
	cert   *tls.Certificate
	bundle cluster.CertBundle // as fetched; written to the cache
}

// certTable is an immutable set of certificates by domain (canonical,
// wildcards as *.example.com).
type certTable struct {
	version uint64
	byName  map[string]*heldCert
}

// certSource holds the certificates and keeps them current. GetCertificate
// is safe for concurrent use and never waits for a fetch.
type certSource struct {
	url    string // the controller's base URL; "" fetches nothing
	token  string
	client *http.Client
	cache  string // the cache file; "" keeps none
	log    *slog.Logger

	held atomic.Pointer[certTable]
	wake chan struct{} // cap 1: a table with another Certs version arrived
	want atomic.Uint64 // the latest table's Certs
	told atomic.Bool   // a table has arrived: want means something

	mu        sync.Mutex // guards the fields below: what the status shows
	source    string     // where the held set came from: "cache" or the controller's URL
	fetchedAt time.Time  // the last successful fetch or cache load
	lastErr   string     // the last fetch's or load's problem; "" when it went well
}

// ControllerClient returns the client that fetches the certificates from
// the controller: TLS verified with tlsConfig (nil: the system's CAs), and
// never through a proxy of the environment (HTTP_PROXY, HTTPS_PROXY): the
// keys go from the controller to the router and nowhere else.
func ControllerClient(tlsConfig *tls.Config) *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: tlsConfig, Proxy: nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second, MaxIdleConns: 1, IdleConnTimeout: time.Minute,
	}}
}

// PlainRemote reports whether a controller URL sends the certificates'
// keys in clear over a network: plain http to a host that is not this
// machine (localhost or a loopback address). A router takes such a URL only
// with --insecure-controller, and says so at every fetch.
func PlainRemote(controller string) bool {
	u, err := url.Parse(controller)
	if err != nil || u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

func newCertSource(url, token string, client *http.Client, stateDir string, log *slog.Logger) *certSource {
	s := &certSource{url: strings.TrimRight(url, "/"), token: token, client: client, log: log.With("component", "certs"),
		wake: make(chan struct{}, 1)}
	if stateDir != "" {
		s.cache = filepath.Join(stateDir, certsFile)
	}
	if s.client == nil {
		s.client = ControllerClient(nil)
	}
	s.held.Store(&certTable{byName: map[string]*heldCert{}})
	return s
}

// lookup returns the certificate for the server name: the exact name's,
// else the wildcard one level up (*.example.com for a.example.com).
func (t *certTable) lookup(name string) *heldCert {
	if c := t.byName[name]; c != nil {
		return c
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		return t.byName["*"+name[i:]]
	}
	return nil
}

// covers reports whether a certificate is held for host.
func (s *certSource) covers(host string) bool {
	return s.held.Load().lookup(host) != nil
}

// GetCertificate picks the certificate by SNI. A client that sends no name,
// or a name the router holds nothing for, gets an error: the handshake
// fails rather than showing another app's certificate.
func (s *certSource) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := canonicalHost(hello.ServerName)
	if name == "" {
		return nil, errors.New("no server name (SNI) in the TLS handshake: this router serves HTTPS by name only")
	}
	if c := s.held.Load().lookup(name); c != nil {
		return c.cert, nil
	}
	return nil, fmt.Errorf("no certificate for %q on this router", name)
}

// tableCerts notes the Certs version of a table just applied; the fetch
// loop fetches when it differs from the version held.
func (s *certSource) tableCerts(v uint64) {
	s.want.Store(v)
	s.told.Store(true)
	if v != s.held.Load().version {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// validBundle parses b and checks that its key goes with its certificate,
// that the certificate names b.Domain and that it has not expired. Its
// errors name the domain and the problem, never the PEM.
func validBundle(b cluster.CertBundle, now time.Time) (*tls.Certificate, error) {
	domain := canonicalHost(b.Domain)
	if domain == "" {
		return nil, errors.New("a certificate without a domain")
	}
	c, err := tls.X509KeyPair([]byte(b.Cert), []byte(b.Key))
	if err != nil {
		return nil, fmt.Errorf("the certificate of %s is unusable (%v): re-issue it or add it again with certs:add", domain, err)
	}
	leaf := c.Leaf
	if !slices.ContainsFunc(leaf.DNSNames, func(n string) bool { return canonicalHost(n) == domain }) {
		if strings.HasPrefix(domain, "*.") || leaf.VerifyHostname(domain) != nil {
			return nil, fmt.Errorf("the certificate of %s names %s, not %s", domain, strings.Join(leaf.DNSNames, ", "), domain)
		}
	}
	if now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("the certificate of %s expired on %s: renew it on the controller", domain, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return &c, nil
}

// install makes set the certificates served. A bundle that does not
// validate is left out, and the one held for its domain, if any, is kept;
// the error lists every bundle refused.
func (s *certSource) install(set cluster.CertSet, now time.Time) error {
	old := s.held.Load()
	next := &certTable{version: set.Version, byName: make(map[string]*heldCert, len(set.Certs))}
	var errs []error
	for _, b := range set.Certs {
		c, err := validBundle(b, now)
		domain := canonicalHost(b.Domain)
		if err != nil {
			if prev := old.byName[domain]; prev != nil {
				next.byName[domain] = prev
				err = fmt.Errorf("%w; the certificate held for %s is kept", err, domain)
			}
			errs = append(errs, err)
			continue
		}
		b.Domain = domain
		next.byName[domain] = &heldCert{cert: c, bundle: b}
	}
	s.held.Store(next)
	return errors.Join(errs...)
}

// loadCache installs the certificates kept in the cache file, if any.
func (s *certSource) loadCache() {
	if s.cache == "" {
		s.log.Warn("no state directory: certificates are not cached, so after a restart this router serves HTTPS only once the controller answers; give one with --state-dir")
		return
	}
	b, err := os.ReadFile(s.cache)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var set cluster.CertSet
	if err == nil {
		err = json.Unmarshal(b, &set)
	}
	if err != nil {
		s.log.Error("cannot read the certificate cache; it is ignored and rewritten at the next fetch", "file", s.cache, "err", err)
		s.noteResult("", fmt.Errorf("reading the cache %s: %w", s.cache, err))
		return
	}
	ierr := s.installFrom("cache", set)
	if ierr != nil {
		s.log.Warn("some cached certificates are unusable", "file", s.cache, "err", ierr)
	}
	s.log.Info("certificates loaded from the cache", "file", s.cache, "version", set.Version, "domains", len(s.held.Load().byName))
}

// writeCache keeps the held certificates in the cache file, mode 0600,
// replacing it atomically.
func (s *certSource) writeCache() error {
	if s.cache == "" {
		return nil
	}
	t := s.held.Load()
	set := cluster.CertSet{Version: t.version, Certs: make([]cluster.CertBundle, 0, len(t.byName))}
	for _, c := range t.byName {
		set.Certs = append(set.Certs, c.bundle)
	}
	slices.SortFunc(set.Certs, func(a, b cluster.CertBundle) int { return strings.Compare(a.Domain, b.Domain) })
	data, err := json.Marshal(set)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.cache, data); err != nil {
		return fmt.Errorf("cannot write the certificate cache %s: %w", s.cache, err)
	}
	return nil
}

// installFrom installs set, read from source, and records the outcome for
// the status in the same step: a status never shows the set's version
// with the outcome of the one before.
func (s *certSource) installFrom(source string, set cluster.CertSet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.install(set, time.Now())
	s.noteResultLocked(source, err)
	return err
}

// noteResult records the outcome of a fetch or a cache load for the
// status; source is "" when nothing was installed.
func (s *certSource) noteResult(source string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noteResultLocked(source, err)
}

// noteResultLocked is noteResult with s.mu held.
func (s *certSource) noteResultLocked(source string, err error) {
	if source != "" {
		s.source, s.fetchedAt = source, time.Now()
	}
	s.lastErr = ""
	if err != nil {
		s.lastErr = err.Error()
	}
}

// fetch gets the certificate set from the controller and installs it.
func (s *certSource) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, certFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+CertsPath, nil)
	if err != nil {
		return fmt.Errorf("the controller URL %q is not usable (%v): fix LONGSHOREMAN_URL", s.url, err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Accept", "application/json")
	if PlainRemote(s.url) {
		s.log.Warn("fetching the certificates and their keys over plain HTTP (--insecure-controller): anyone on the network between the router and the controller can read them; give LONGSHOREMAN_URL an https:// URL", "controller", s.url)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the controller at %s for certificates (%v); HTTPS goes on with the certificates held", s.url, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("the controller at %s refused the router token (%s): the router token is wrong: LONGSHOREMAN_ROUTER_TOKEN; print it with `longshoreman token --router` on the controller's machine (the full API token is not accepted here)", s.url, resp.Status)
	case resp.StatusCode != http.StatusOK:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("the controller at %s answered %s for %s: %s", s.url, resp.Status, CertsPath, strings.TrimSpace(string(msg)))
	}
	var set cluster.CertSet
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxCertSet)).Decode(&set); err != nil {
		return fmt.Errorf("the controller at %s sent certificates that do not decode (%v); check that it runs the same version as this router", s.url, err)
	}
	ierr := s.installFrom(s.url, set)
	if werr := s.writeCache(); werr != nil {
		s.log.Error("certificates fetched but not cached; after a restart this router waits for the controller", "err", werr)
	}
	held := s.held.Load()
	s.log.Info("certificates fetched", "controller", s.url, "version", set.Version, "domains", len(held.byName))
	if ierr != nil {
		s.log.Error("some certificates from the controller are unusable", "err", ierr)
	}
	return nil
}

// run fetches the certificates at start, whenever a table names another
// version, and every CertRefresh, until ctx ends; after a failure it waits
// between certRetryMin and certRetryMax before trying again.
func (s *certSource) run(ctx context.Context) {
	if s.url == "" {
		return
	}
	refresh := time.NewTimer(CertRefresh)
	defer refresh.Stop()
	due := true // fetch once at start: the cache may be old
	var retry time.Duration
	for {
		stale := s.told.Load() && s.want.Load() != s.held.Load().version
		if due || stale {
			err := s.fetch(ctx)
			if ctx.Err() != nil {
				return
			}
			if err == nil && s.told.Load() && s.want.Load() != s.held.Load().version {
				err = fmt.Errorf("the controller at %s sent certificates version %d while the routing table names version %d; fetching again", s.url, s.held.Load().version, s.want.Load())
			}
			if err != nil {
				s.noteResult("", err)
				retry = min(max(2*retry, certRetryMin), certRetryMax)
				s.log.Warn("fetching certificates failed; retrying", "err", err, "in", retry)
				select {
				case <-ctx.Done():
					return
				case <-time.After(retry):
				}
				continue
			}
			retry, due = 0, false
			refresh.Reset(CertRefresh)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-refresh.C:
			due = true
		}
	}
}

// CertStatus is one certificate held, as the status shows it.
type CertStatus struct {
	Domain   string    `json:"domain"`
	NotAfter time.Time `json:"not_after"`
}

// CertsStatus is what the status says of the certificates: no key and no
// chain.
type CertsStatus struct {
	Version   uint64       `json:"version"`
	Held      []CertStatus `json:"held"`
	Source    string       `json:"source"`     // "cache", the controller's URL, or "" before any
	FetchedAt time.Time    `json:"fetched_at"` // of the set held
	LastError string       `json:"last_error"` // of the last fetch; "" when it went well
}

func (s *certSource) status() *CertsStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.held.Load()
	st := &CertsStatus{Version: t.version, Held: make([]CertStatus, 0, len(t.byName))}
	for name, c := range t.byName {
		st.Held = append(st.Held, CertStatus{Domain: name, NotAfter: c.cert.Leaf.NotAfter})
	}
	slices.SortFunc(st.Held, func(a, b CertStatus) int { return strings.Compare(a.Domain, b.Domain) })
	st.Source, st.FetchedAt, st.LastError = s.source, s.fetchedAt, s.lastErr
	return st
}
