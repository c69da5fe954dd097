// Package certs obtains and renews the certificates of the apps served over
// HTTPS from an ACME CA (RFC 8555, with golang.org/x/crypto/acme), one
// account per directory, validating with HTTP-01 through the routers: the
// challenge goes into the store, hence into the signed routing table, and
// is answered to the CA only once the routers were sent that table.
// Certificates and the account key live in the store; only the leader runs
// a Manager.
package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"golang.org/x/crypto/acme"
)

// Store is the manager's part of the store: the apps (which have HTTPS
// on), the certificates and the ACME state, and the routing table (what
// the routers were told). Every write of the manager to a certificate is a
// ReplaceCert, so that one an operator added or removed during an order is
// never overwritten by the order's copy.
type Store interface {
	cluster.AppStore
	cluster.CertStore
	cluster.InstanceStore
}

// Defaults.
const (
	LetsEncrypt    = "https://acme-v02.api.letsencrypt.org/directory"
	MinBackoff     = time.Minute
	MaxBackoff     = 6 * time.Hour
	maxSleep       = 10 * time.Minute // between passes at most, so a clock jump or a missed kick is caught
	orderTimeout   = 5 * time.Minute
	publishTimeout = 2 * time.Minute
	// applyGrace is how long routers are given to apply a table once it
	// was published (they do within milliseconds) before the CA is told
	// to check: a check that comes too early fails the authorization.
	applyGrace = 500 * time.Millisecond
)

// Config is a Manager's setting.
type Config struct {
	Store     Store
	Email     string       // the account's contact
	Directory string       // the ACME directory URL; empty: Let's Encrypt production
	Client    *http.Client // for the CA; nil: http.DefaultClient
	// RenewBefore renews a certificate once less than this remains of
	// it; zero renews when a third of its lifetime remains.
	RenewBefore time.Duration
	// Changed asks the publisher to publish the routing table now;
	// Published returns the version it last sent to the routers. A
	// challenge is answered to the CA only once the routers were sent it.
	Changed   func()
	Published func() uint64
	Events    func(cluster.Event) // nil: none
	Logger    *slog.Logger
	Now       func() time.Time // nil: time.Now
}

// Manager keeps a certificate for every app with HTTPS on. Run it while
// this controller leads.
type Manager struct {
	cfg  Config
	kick chan struct{}
}

// New returns a Manager; Run starts its work.
func New(cfg Config) *Manager {
	if cfg.Directory == "" {
		cfg.Directory = LetsEncrypt
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	return &Manager{cfg: cfg, kick: make(chan struct{}, 1)}
}

// Kick makes Run look at the apps now: an app's HTTPS setting or a
// certificate changed. It never blocks.
func (m *Manager) Kick() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Run obtains and renews certificates until ctx ends: a pass over the apps
// at start, at every Kick, and when the next renewal or retry is due.
func (m *Manager) Run(ctx context.Context) {
	m.dropChallenges()
	for {
		next := m.Pass(ctx)
		wait := min(max(next.Sub(m.cfg.Now()), time.Second), maxSleep)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-m.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// dropChallenges removes the challenges an order cut short (by a crash or
// a lost leadership) left in the routing table: only the leader orders,
// one at a time, so none is in use when it starts.
func (m *Manager) dropChallenges() {
	table, err := m.cfg.Store.RoutingTable()
	if err != nil || len(table.Challenges) == 0 {
		return
	}
	for token := range table.Challenges {
		if err := m.cfg.Store.DeleteChallenge(token); err != nil {
			m.cfg.Logger.Warn("certificate: cannot remove a stale challenge", "err", err)
		}
	}
	m.changed()
}

// Pass orders a certificate for every app with HTTPS on whose certificate
// is missing or due for renewal (and whose retry time has come), removes
// the ACME certificates of apps that no longer exist, and returns when the
// next pass is due.
func (m *Manager) Pass(ctx context.Context) time.Time {
	now := m.cfg.Now()
	next := now.Add(maxSleep)
	apps, err := m.cfg.Store.AllApps()
	if err != nil {
		m.cfg.Logger.Warn("certificates: cannot read the apps", "err", err)
		return now.Add(MinBackoff)
	}
	certs, err := m.cfg.Store.Certs()
	if err != nil {
		m.cfg.Logger.Warn("certificates: cannot read the certificates", "err", err)
		return now.Add(MinBackoff)
	}
	byDomain := map[string]cluster.Cert{}
	for _, c := range certs {
		byDomain[c.Domain] = c
	}
	exists := map[string]bool{}
	for _, app := range apps {
		exists[app.Name] = true
		if !app.HTTPS.Enabled || app.Deleting {
			continue
		}
		c, known := byDomain[app.Name]
		var read *cluster.Cert // the record the order's writes are based on
		if known {
			r := c
			read = &r
		} else {
			c = cluster.Cert{Domain: app.Name, Source: cluster.CertACME}
		}
		if c.Source == cluster.CertManual || manualCovers(certs, app.Name, now) {
			continue // brought by the user: never ordered or renewed here
		}
		due := m.dueAt(c)
		if now.Before(due) {
			next = minTime(next, due)
			continue
		}
		if ctx.Err() != nil {
			return next
		}
		c = m.obtain(ctx, c, read)
		if ctx.Err() == nil {
			next = minTime(next, m.dueAt(c))
		}
	}
	for _, c := range certs {
		if c.Source == cluster.CertACME && !exists[c.Domain] {
			if err := m.cfg.Store.ReplaceCert(c.Domain, &c, nil); err == nil {
				m.cfg.Logger.Info("certificate removed: its app was deleted", "domain", c.Domain)
				m.changed()
			}
		}
	}
	return next
}

// dueAt is when c should be ordered or renewed: at once when it has none,
// its next attempt after a failure, else its renewal time.
func (m *Manager) dueAt(c cluster.Cert) time.Time {
	if c.Failures > 0 && !c.NextAttempt.IsZero() {
		return c.NextAttempt
	}
	if !c.Issued() {
		return time.Time{}
	}
	return RenewAt(c.NotBefore, c.NotAfter, m.cfg.RenewBefore)
}

// RenewAt is when a certificate valid from notBefore to notAfter is
// renewed: once a third of its lifetime remains, or, with renewBefore,
// once less than that remains.
func RenewAt(notBefore, notAfter time.Time, renewBefore time.Duration) time.Time {
	if renewBefore > 0 {
		return notAfter.Add(-renewBefore)
	}
	return notAfter.Add(-notAfter.Sub(notBefore) / 3)
}

// Backoff is the wait before retry number failures (1 for the first):
// doubling from MinBackoff up to MaxBackoff, with up to 10% jitter so that
// many domains failing together spread out.
func Backoff(failures int) time.Duration {
	d := MinBackoff
	for i := 1; i < failures && d < MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, MaxBackoff)
	return d + mrand.N(d/10+1)
}

func manualCovers(certs []cluster.Cert, domain string, now time.Time) bool {
	for _, c := range certs {
		if c.Source == cluster.CertManual && c.Issued() && now.Before(c.NotAfter) && cluster.Covers([]string{c.Domain}, domain) {
			return true
		}
	}
	return false
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// obtain orders a certificate for c's domain and stores it, or stores the
// failure with the time of the next attempt, over read, the record c was
// read as (nil: none). It returns what it meant to store. When the record
// changed during the order (an operator added, replaced or removed a
// certificate), or a certificate of the operator's covers the domain by
// then, the operator's stays and the order's outcome is dropped.
func (m *Manager) obtain(ctx context.Context, c cluster.Cert, read *cluster.Cert) cluster.Cert {
	ctx, cancel := context.WithTimeout(ctx, orderTimeout)
	defer cancel()
	now := m.cfg.Now()
	renewal := c.Issued()
	c.LastAttempt = now.UTC()
	m.cfg.Logger.Info("certificate: ordering", "domain", c.Domain, "renewal", renewal, "directory", m.cfg.Directory)
	chain, key, err := m.order(ctx, c.Domain)
	var leaf *x509.Certificate
	if err == nil {
		leaf, err = x509.ParseCertificate(chain[0])
	}
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return c // leadership ended: the next leader tries again
		}
		c.Failures++
		c.LastError = err.Error()
		c.NextAttempt = now.Add(Backoff(c.Failures)).UTC()
		m.cfg.Logger.Warn("certificate: order failed; the current certificate, if any, stays in use", "domain", c.Domain, "err", err, "attempt", c.Failures, "next_attempt", c.NextAttempt)
		m.emit(cluster.Event{Type: cluster.EventCert, Step: "failed", App: c.Domain, Message: err.Error()})
		if perr := m.store(c, read, "failure"); perr != nil && cluster.ErrorCode(perr) != cluster.ECONFLICT {
			m.cfg.Logger.Warn("certificate: cannot store the failure", "domain", c.Domain, "err", perr)
		}
		return c
	}
	var pemChain strings.Builder
	for _, der := range chain {
		pemChain.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err) // an ECDSA key always marshals
	}
	c.Chain, c.Key = pemChain.String(), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	c.Issuer, c.Serial = leafIssuer(leaf), leaf.SerialNumber.Text(16)
	c.NotBefore, c.NotAfter = leaf.NotBefore.UTC(), leaf.NotAfter.UTC()
	c.LastError, c.Failures, c.NextAttempt = "", 0, RenewAt(c.NotBefore, c.NotAfter, m.cfg.RenewBefore).UTC()
	if all, err := m.cfg.Store.Certs(); err == nil && manualCovers(all, c.Domain, m.cfg.Now()) {
		m.cfg.Logger.Info("certificate: a certificate added with certs:add covers the domain now; it is served, and the order's certificate is dropped", "domain", c.Domain)
		return c
	}
	if err := m.store(c, read, "certificate"); cluster.ErrorCode(err) == cluster.ECONFLICT {
		return c
	} else if err != nil {
		m.cfg.Logger.Warn("certificate: cannot store it; ordering again later", "domain", c.Domain, "err", err)
		c.Failures++
		c.NextAttempt = now.Add(Backoff(c.Failures)).UTC()
		return c
	}
	m.changed()
	step := "issued"
	if renewal {
		step = "renewed"
	}
	m.cfg.Logger.Info("certificate: "+step, "domain", c.Domain, "issuer", c.Issuer, "serial", c.Serial, "not_after", c.NotAfter, "renew_at", c.NextAttempt)
	m.emit(cluster.Event{Type: cluster.EventCert, Step: step, App: c.Domain, Message: fmt.Sprintf("valid until %s, from %s", c.NotAfter.Format(time.RFC3339), c.Issuer)})
	return c
}

// store writes c over read. When the record is no longer read, it
// changes nothing, says so, and has the next pass look at once.
func (m *Manager) store(c cluster.Cert, read *cluster.Cert, what string) error {
	err := m.cfg.Store.ReplaceCert(c.Domain, read, &c)
	if cluster.ErrorCode(err) == cluster.ECONFLICT {
		m.cfg.Logger.Info("certificate: the record changed during the order (a certificate was added or removed with certs:add or certs:rm); it is kept, and the order's "+what+" is dropped", "domain", c.Domain)
		m.Kick()
	}
	return err
}

func leafIssuer(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return c.Issuer.CommonName
	}
	return c.Issuer.String()
}

func (m *Manager) changed() {
	if m.cfg.Changed != nil {
		m.cfg.Changed()
	}
}

func (m *Manager) emit(e cluster.Event) {
	if m.cfg.Events != nil {
		e.Time = m.cfg.Now().UTC()
		m.cfg.Events(e)
	}
}

// order runs one ACME order for domain with HTTP-01 and returns the chain
// (DER, leaf first) and the new key.
func (m *Manager) order(ctx context.Context, domain string) ([][]byte, *ecdsa.PrivateKey, error) {
	client, err := m.client(ctx)
	if err != nil {
		return nil, nil, err
	}
	o, err := client.AuthorizeOrder(ctx, acme.DomainIDs(domain))
	if err != nil {
		return nil, nil, fmt.Errorf("the CA refused the order: %w", err)
	}
	for _, u := range o.AuthzURLs {
		if err := m.authorize(ctx, client, u); err != nil {
			return nil, nil, err
		}
	}
	if o, err = client.WaitOrder(ctx, o.URI); err != nil {
		return nil, nil, fmt.Errorf("the order did not become ready: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{domain}}, key)
	if err != nil {
		return nil, nil, err
	}
	chain, _, err := client.CreateOrderCert(ctx, o.FinalizeURL, csr, true)
	if err != nil {
		return nil, nil, fmt.Errorf("finalizing the order failed: %w", err)
	}
	if len(chain) == 0 {
		return nil, nil, errors.New("the CA returned no certificate")
	}
	return chain, key, nil
}

// authorize completes one authorization with HTTP-01: the key
// authorization goes into the store and out to the routers, and the CA is
// told to check only once the routers were sent it.
func (m *Manager) authorize(ctx context.Context, client *acme.Client, url string) error {
	z, err := client.GetAuthorization(ctx, url)
	if err != nil {
		return fmt.Errorf("reading the authorization failed: %w", err)
	}
	if z.Status == acme.StatusValid {
		return nil
	}
	var chal *acme.Challenge
	for _, ch := range z.Challenges {
		if ch.Type == "http-01" {
			chal = ch
		}
	}
	if chal == nil {
		return fmt.Errorf("the CA offers no http-01 challenge for %s", z.Identifier.Value)
	}
	keyAuth, err := client.HTTP01ChallengeResponse(chal.Token)
	if err != nil {
		return err
	}
	if err := m.cfg.Store.PutChallenge(chal.Token, keyAuth); err != nil {
		return fmt.Errorf("storing the challenge failed: %w", err)
	}
	defer func() {
		if err := m.cfg.Store.DeleteChallenge(chal.Token); err != nil {
			m.cfg.Logger.Warn("certificate: cannot remove a challenge from the routing table", "err", err)
		}
		m.changed()
	}()
	if err := m.waitPublished(ctx); err != nil {
		return err
	}
	if _, err := client.Accept(ctx, chal); err != nil {
		return fmt.Errorf("the CA refused the challenge: %w", err)
	}
	if _, err := client.WaitAuthorization(ctx, z.URI); err != nil {
		return fmt.Errorf("the CA could not validate %s over HTTP (it fetches http://%s/.well-known/acme-challenge/… from a router on port 80: check the domain's DNS points at the routers and port 80 is open): %w", z.Identifier.Value, z.Identifier.Value, err)
	}
	return nil
}

// waitPublished waits until the routers were sent a routing table holding
// what the store holds now.
func (m *Manager) waitPublished(ctx context.Context) error {
	if m.cfg.Published == nil {
		return nil
	}
	table, err := m.cfg.Store.RoutingTable()
	if err != nil {
		return err
	}
	m.changed()
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for m.cfg.Published() < table.Version {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the routers were not sent the challenge within %s (is Redis reachable? see GET /healthz)", publishTimeout)
		case <-tick.C:
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(applyGrace):
	}
	return nil
}

// client returns an ACME client with the directory's account, registering
// one (and storing its key) at the first use.
func (m *Manager) client(ctx context.Context) (*acme.Client, error) {
	dir := m.cfg.Directory
	client := &acme.Client{DirectoryURL: dir, HTTPClient: m.cfg.Client, UserAgent: "longshoreman"}
	acct, ok, err := m.cfg.Store.ACMEAccount(dir)
	if err != nil {
		return nil, err
	}
	if ok {
		block, _ := pem.Decode([]byte(acct.Key))
		if block == nil {
			return nil, fmt.Errorf("the stored ACME account key for %s is not PEM", dir)
		}
		key, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("the stored ACME account key for %s does not parse: %w", dir, err)
		}
		client.Key, client.KID = key, acme.KeyID(acct.URL)
		return client, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	client.Key = key
	a, err := client.Register(ctx, &acme.Account{Contact: []string{"mailto:" + m.cfg.Email}}, acme.AcceptTOS)
	if err != nil {
		return nil, fmt.Errorf("registering an ACME account at %s failed: %w", dir, err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	acct = cluster.ACMEAccount{Key: string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})), URL: a.URI}
	if err := m.cfg.Store.PutACMEAccount(dir, acct); err != nil {
		return nil, err
	}
	m.cfg.Logger.Info("ACME account registered", "directory", dir, "account", a.URI)
	return client, nil
}

// Expiry returns the seconds until each certificate expires, for the
// domains served: apps with HTTPS on and certificates brought by the user
// (the label set stays bounded by what an operator configured).
func Expiry(store Store, now time.Time) (map[string]float64, error) {
	apps, err := store.AllApps()
	if err != nil {
		return nil, err
	}
	certs, err := store.Certs()
	if err != nil {
		return nil, err
	}
	on := map[string]bool{}
	for _, a := range apps {
		on[a.Name] = a.HTTPS.Enabled && !a.Deleting
	}
	out := map[string]float64{}
	for _, c := range certs {
		if c.Issued() && (c.Source == cluster.CertManual || on[c.Domain]) {
			out[c.Domain] = c.NotAfter.Sub(now).Seconds()
		}
	}
	return out, nil
}
