//go:build integration

package router_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/pubsub"
	"github.com/longshoreman/longshoreman/router"
)

// testCA signs the certificates the tests hand to the router.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

var serial atomic.Int64

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: "router test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue returns a bundle for domain (a name or *.wildcard) signed by ca.
func (ca *testCA) issue(t *testing.T, domain string) cluster.CertBundle {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: domain}, DNSNames: []string{domain},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(12 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return cluster.CertBundle{Domain: domain, NotAfter: tmpl.NotAfter,
		Cert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		Key:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))}
}

// fakeController serves the controller's documented GET /router/certs
// from certificates the test makes, to the router token only.
type fakeController struct {
	*httptest.Server
	mu      sync.Mutex // guards token and set
	token   string
	set     cluster.CertSet
	fetches atomic.Int64
}

func newFakeController(t *testing.T, token string) *fakeController {
	t.Helper()
	return startFakeController(t, token, httptest.NewServer)
}

// startFakeController starts the controller's endpoint with start:
// httptest.NewServer or, for an https controller, httptest.NewTLSServer.
func startFakeController(t *testing.T, token string, start func(http.Handler) *httptest.Server) *fakeController {
	t.Helper()
	fc := &fakeController{token: token}
	fc.Server = start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != router.CertsPath || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		fc.fetches.Add(1)
		fc.mu.Lock()
		token := fc.token
		fc.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"the router token is wrong"}`)
			return
		}
		fc.mu.Lock()
		defer fc.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(fc.set)
	}))
	t.Cleanup(fc.Close)
	return fc
}

func (fc *fakeController) serve(set cluster.CertSet) {
	fc.mu.Lock()
	fc.set = set
	fc.mu.Unlock()
}

// certController returns a new CA and a fake controller that takes the
// router token and serves version of a set of certificates the CA issued,
// one for each of names.
func certController(t *testing.T, version uint64, names ...string) (*testCA, *fakeController) {
	t.Helper()
	ca := newTestCA(t)
	fc := newFakeController(t, testRouterToken)
	set := cluster.CertSet{Version: version}
	for _, n := range names {
		set.Certs = append(set.Certs, ca.issue(t, n))
	}
	fc.serve(set)
	return ca, fc
}

// tablePublisher publishes a signed table that the test changes.
type tablePublisher struct {
	src  *staticSource
	pub  *pubsub.Publisher
	stop func() // ends the publisher, as if its controller were gone
}

func publishTable(t *testing.T, c *redis.Client, ch string, table cluster.RoutingTable) *tablePublisher {
	t.Helper()
	tp := &tablePublisher{src: &staticSource{t: table}}
	tp.pub = pubsub.NewPublisher(pubsub.PublisherConfig{Client: pubsub.ClientOf(c), Channel: ch, Source: tp.src, Republish: 100 * time.Millisecond, Logger: testLogger(), Key: testKey})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tp.pub.Run(ctx); close(done) }()
	tp.stop = func() { cancel(); <-done }
	t.Cleanup(tp.stop)
	return tp
}

// change edits the table, raises its version and publishes it.
func (tp *tablePublisher) change(edit func(*cluster.RoutingTable)) {
	tp.src.mu.Lock()
	edit(&tp.src.t)
	tp.src.t.Version++
	tp.src.mu.Unlock()
	tp.pub.Changed()
}

// httpsRouter is a router.Run serving HTTP and HTTPS.
type httpsRouter struct {
	url       string // http://
	httpsAddr string
	stop      func()
}

func runHTTPSRouter(t *testing.T, cfg router.RunConfig) *httpsRouter {
	t.Helper()
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTPSListener = tl
	url, stop := runRouter(t, cfg)
	return &httpsRouter{url: url, httpsAddr: tl.Addr().String(), stop: stop}
}

// client returns an HTTPS client that reaches the router whatever the URL's
// host (which is the SNI name) and trusts ca; h2 offers HTTP/2.
func (hr *httpsRouter) client(ca *testCA, h2 bool) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, hr.httpsAddr)
		},
		TLSClientConfig:   &tls.Config{RootCAs: ca.pool},
		ForceAttemptHTTP2: h2,
		DisableKeepAlives: false,
	}
	if !h2 {
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// get fetches url and decodes what the test backend saw.
func get(t *testing.T, c *http.Client, method, url, body string) (*http.Response, seen) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var s seen
	json.Unmarshal(b, &s)
	return resp, s
}

func leafOf(resp *http.Response) *x509.Certificate {
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		return nil
	}
	return resp.TLS.PeerCertificates[0]
}

func TestHTTPSBySNI(t *testing.T) {
	for _, rpOnly := range []bool{false, true} {
		name := "loop"
		if rpOnly {
			name = "reverse-proxy-only"
		}
		t.Run(name, func(t *testing.T) { testHTTPSBySNI(t, rpOnly) })
	}
}

// testHTTPSBySNI checks HTTPS through the router's loop, or with
// rpOnly through net/http's server alone.
func testHTTPSBySNI(t *testing.T, rpOnly bool) {
	c := testRedis(t)
	ca, fc := certController(t, 1, "a.example.com", "*.w.example.com")
	ba, _ := backend(t, "a")
	bw, _ := backend(t, "w")
	bb, _ := backend(t, "b")
	ch := "test.router.https.sni." + t.Name()
	publishTable(t, c, ch, cluster.RoutingTable{Version: 1, Controller: "c", Cluster: "k", Certs: 1,
		Routes: map[string][]string{"a.example.com": {ba}, "x.w.example.com": {bw}, "b.example.com": {bb}},
		HTTPS:  map[string]cluster.HTTPSRoute{"a.example.com": {}, "x.w.example.com": {}}})
	hr := runHTTPSRouter(t, router.RunConfig{Redis: pubsub.ClientOf(c), Channel: ch, Controller: fc.URL, RouterToken: "router-token",
		Router: router.Config{ReverseProxyOnly: rpOnly}})
	testenv.Eventually(t, 10*time.Second, "table applied", func() bool { return status(t, hr.url).Version == 1 })
	h2 := hr.client(ca, true)
	testenv.Eventually(t, 10*time.Second, "certificates fetched", func() bool {
		resp, err := h2.Get("https://a.example.com/")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})

	resp, s := get(t, h2, "GET", "https://a.example.com/path", "")
	if resp.Proto != "HTTP/2.0" || s.Backend != "a" || leafOf(resp).DNSNames[0] != "a.example.com" {
		t.Fatalf("h2 GET a: %s %s backend %q", resp.Proto, resp.Status, s.Backend)
	}
	if got := s.Header.Get("X-Forwarded-Proto"); got != "https" {
		t.Fatalf("X-Forwarded-Proto over h2 = %q, want https", got)
	}
	resp, s = get(t, h2, "POST", "https://a.example.com/form", "body")
	if resp.Proto != "HTTP/2.0" || s.Body != "body" || s.Header.Get("X-Forwarded-Proto") != "https" {
		t.Fatalf("h2 POST a: %s backend %q body %q proto %q", resp.Proto, s.Backend, s.Body, s.Header.Get("X-Forwarded-Proto"))
	}
	resp, s = get(t, h2, "GET", "https://x.w.example.com/", "")
	if s.Backend != "w" || leafOf(resp).DNSNames[0] != "*.w.example.com" {
		t.Fatalf("wildcard: backend %q cert %v", s.Backend, leafOf(resp).DNSNames)
	}

	// HTTP/1.1 over TLS: GETs on the router's loop, a POST handed to the
	// http.Server; both known as HTTPS.
	h1 := hr.client(ca, false)
	for _, m := range []string{"GET", "POST"} {
		resp, s = get(t, h1, m, "https://a.example.com/one", "x")
		if resp.Proto != "HTTP/1.1" || s.Backend != "a" || s.Header.Get("X-Forwarded-Proto") != "https" {
			t.Fatalf("HTTP/1.1 %s: %s backend %q proto %q", m, resp.Proto, s.Backend, s.Header.Get("X-Forwarded-Proto"))
		}
	}

	// No certificate for the name, or no name: the handshake fails, and no
	// certificate of another app is shown.
	for _, name := range []string{"b.example.com", "w.example.com", "a.b.w.example.com", ""} {
		var shown []*x509.Certificate
		conn, err := tls.Dial("tcp", hr.httpsAddr, &tls.Config{ServerName: name, InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error { shown = cs.PeerCertificates; return nil }})
		if err == nil {
			conn.Close()
			t.Fatalf("SNI %q: handshake succeeded", name)
		}
		if len(shown) > 0 {
			t.Fatalf("SNI %q: the router showed the certificate of %v", name, shown[0].DNSNames)
		}
	}
	// TLS 1.1 is refused.
	if conn, err := tls.Dial("tcp", hr.httpsAddr, &tls.Config{ServerName: "a.example.com", RootCAs: ca.pool, MaxVersion: tls.VersionTLS11}); err == nil {
		conn.Close()
		t.Fatal("a TLS 1.1 handshake succeeded")
	}
	// TLS 1.2 works, with a modern suite.
	conn, err := tls.Dial("tcp", hr.httpsAddr, &tls.Config{ServerName: "a.example.com", RootCAs: ca.pool, MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS 1.2: %v", err)
	}
	if cs := conn.ConnectionState(); !strings.Contains(tls.CipherSuiteName(cs.CipherSuite), "ECDHE") {
		t.Fatalf("TLS 1.2 suite %s", tls.CipherSuiteName(cs.CipherSuite))
	}
	conn.Close()

	// The status lists the certificates, and no key or chain.
	raw := statusBody(t, hr.url)
	if strings.Contains(raw, "PRIVATE KEY") || strings.Contains(raw, "BEGIN CERTIFICATE") {
		t.Fatalf("the status shows key material: %s", raw)
	}
	st := status(t, hr.url)
	if st.Certs == nil || len(st.Certs.Held) != 2 || st.Certs.Held[0].Domain != "*.w.example.com" || st.Certs.Source != fc.URL || st.Certs.LastError != "" {
		t.Fatalf("status certs: %+v", st.Certs)
	}
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func statusBody(t *testing.T, url string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url+router.StatusPath, nil)
	req.Header.Set("Authorization", "Bearer "+testRouterToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestHTTPSFromCacheWithoutController(t *testing.T) {
	c := testRedis(t)
	ca, fc := certController(t, 4, "a.example.com")
	ba, _ := backend(t, "a")
	ch := "test.router.https.cache"
	publishTable(t, c, ch, cluster.RoutingTable{Version: 1, Controller: "c", Cluster: "k", Certs: 4,
		Routes: map[string][]string{"a.example.com": {ba}}})
	dir := t.TempDir()
	logs := &testenv.Log{}
	hr := runHTTPSRouter(t, router.RunConfig{Redis: pubsub.ClientOf(c), Channel: ch, Controller: fc.URL, RouterToken: "router-token", StateDir: dir,
		Logger: slogTo(logs)})
	testenv.Eventually(t, 10*time.Second, "table applied", func() bool { return status(t, hr.url).Version == 1 })
	cache := filepath.Join(dir, "certs.json")
	testenv.Eventually(t, 10*time.Second, "cache written", func() bool { _, err := os.Stat(cache); return err == nil })
	fi, err := os.Stat(cache)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("cache mode %v, want 0600", fi.Mode().Perm())
	}
	if resp, s := get(t, hr.client(ca, true), "GET", "https://a.example.com/", ""); s.Backend != "a" {
		t.Fatalf("before: %s", resp.Status)
	}
	hr.stop()

	// The controller is gone: the restarted router serves from its cache.
	fc.Close()
	logs2 := &testenv.Log{}
	hr = runHTTPSRouter(t, router.RunConfig{Redis: pubsub.ClientOf(c), Channel: ch, Controller: fc.URL, RouterToken: "router-token", StateDir: dir,
		Logger: slogTo(logs2)})
	testenv.Eventually(t, 10*time.Second, "table applied", func() bool { return status(t, hr.url).Version == 1 })
	resp, s := get(t, hr.client(ca, true), "GET", "https://a.example.com/", "")
	if s.Backend != "a" || resp.Proto != "HTTP/2.0" {
		t.Fatalf("from the cache: %s %s backend %q", resp.Proto, resp.Status, s.Backend)
	}
	st := status(t, hr.url)
	if st.Certs.Source != "cache" || st.Certs.Version != 4 {
		t.Fatalf("status certs: %+v", st.Certs)
	}
	testenv.Eventually(t, 10*time.Second, "fetch failure reported", func() bool { return status(t, hr.url).Certs.LastError != "" })
	if e := status(t, hr.url).Certs.LastError; !strings.Contains(e, "cannot reach the controller") {
		t.Fatalf("last error %q", e)
	}
	for _, l := range []*testenv.Log{logs, logs2} {
		if s := l.String(); strings.Contains(s, "PRIVATE KEY") || strings.Contains(s, "BEGIN CERTIFICATE") {
			t.Fatalf("key material in the logs: %s", s)
		}
	}
}

func TestChallengesAndRedirect(t *testing.T) {
	c := testRedis(t)
	ca, fc := certController(t, 1, "a.example.com", "b.example.com")
	ba, _ := backend(t, "a")
	bb, _ := backend(t, "b")
	bc, _ := backend(t, "c")
	ch := "test.router.https.acme"
	tp := publishTable(t, c, ch, cluster.RoutingTable{Version: 1, Controller: "c", Cluster: "k", Certs: 1,
		Routes: map[string][]string{"a.example.com": {ba}, "b.example.com": {bb}, "c.example.com": {bc}},
		HTTPS: map[string]cluster.HTTPSRoute{"a.example.com": {Redirect: true}, "b.example.com": {},
			"c.example.com": {Redirect: true}}, // no certificate yet: not redirected
		Challenges: map[string]string{"tok1": "tok1.thumbprint"}})
	hr := runHTTPSRouter(t, router.RunConfig{Redis: pubsub.ClientOf(c), Channel: ch, Controller: fc.URL, RouterToken: "router-token"})
	testenv.Eventually(t, 10*time.Second, "table applied, certificates fetched", func() bool {
		st := status(t, hr.url)
		return st.Version == 1 && st.Certs != nil && st.Certs.Version == 1
	})
	_, port, _ := net.SplitHostPort(hr.httpsAddr)
	noFollow := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	fetch := func(host, path string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest("GET", hr.url+path, nil)
		req.Host = host
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}

	// Challenges: answered on any host, the redirected one included.
	for _, host := range []string{"a.example.com", "unknown.example.org"} {
		code, body, h := fetch(host, "/.well-known/acme-challenge/tok1")
		if code != 200 || body != "tok1.thumbprint" || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
			t.Fatalf("challenge on %s: %d %q %q", host, code, body, h.Get("Content-Type"))
		}
	}
	if code, _, _ := fetch("a.example.com", "/.well-known/acme-challenge/nope"); code != 404 {
		t.Fatalf("unknown token: %d", code)
	}

	// Redirect with path and query; the app without redirect is proxied.
	code, _, h := fetch("a.example.com", "/some/path?q=1&r=%20x")
	if want := "https://a.example.com:" + port + "/some/path?q=1&r=%20x"; code != http.StatusPermanentRedirect || h.Get("Location") != want {
		t.Fatalf("redirect: %d %q, want 308 %q", code, h.Get("Location"), want)
	}
	if code, body, _ := fetch("b.example.com", "/"); code != 200 || !strings.Contains(body, `"backend":"b"`) {
		t.Fatalf("b over HTTP: %d %q", code, body)
	}
	if code, body, _ := fetch("c.example.com", "/"); code != 200 || !strings.Contains(body, `"backend":"c"`) {
		t.Fatalf("c (redirect, no certificate yet) over HTTP: %d %q", code, body)
	}
	// Over HTTPS the redirected app is proxied.
	if _, s := get(t, hr.client(ca, true), "GET", "https://a.example.com/some/path", ""); s.Backend != "a" {
		t.Fatalf("a over HTTPS: backend %q", s.Backend)
	}

	// A later signed table replaces the challenges.
	tp.change(func(rt *cluster.RoutingTable) { rt.Challenges = map[string]string{"tok2": "tok2.thumbprint"} })
	testenv.Eventually(t, 10*time.Second, "signed challenge", func() bool {
		code, body, _ := fetch("x.example.net", "/.well-known/acme-challenge/tok2")
		return code == 200 && body == "tok2.thumbprint"
	})
	// An unsigned table carrying a challenge is dropped.
	before := status(t, hr.url)
	forged := tp.src.t
	forged.Version += 100
	forged.Challenges = map[string]string{"evil": "evil.attacker"}
	msg, err := pubsub.Encode(forged)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(context.Background(), ch, msg).Err(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "unsigned table dropped", func() bool { return status(t, hr.url).Dropped.Unsigned > before.Dropped.Unsigned })
	if code, body, _ := fetch("x.example.net", "/.well-known/acme-challenge/evil"); code != 404 {
		t.Fatalf("forged challenge answered: %d %q", code, body)
	}
}

func TestCertificateChangeDuringTraffic(t *testing.T) {
	c := testRedis(t)
	ca := newTestCA(t)
	fc := newFakeController(t, "router-token")
	first := ca.issue(t, "a.example.com")
	fc.serve(cluster.CertSet{Version: 1, Certs: []cluster.CertBundle{first}})
	ba, _ := backend(t, "a")
	ch := "test.router.https.renew"
	tp := publishTable(t, c, ch, cluster.RoutingTable{Version: 1, Controller: "c", Cluster: "k", Certs: 1,
		Routes: map[string][]string{"a.example.com": {ba}}})
	hr := runHTTPSRouter(t, router.RunConfig{Redis: pubsub.ClientOf(c), Channel: ch, Controller: fc.URL, RouterToken: "router-token"})
	testenv.Eventually(t, 10*time.Second, "table applied, certificates fetched", func() bool {
		st := status(t, hr.url)
		return st.Version == 1 && st.Certs != nil && st.Certs.Version == 1
	})

	// Clients loop: one reusing its connection, one handshaking anew for
	// every request; every request must succeed across the change.
	second := ca.issue(t, "a.example.com")
	wantSerial := func(b cluster.CertBundle) string {
		p, _ := pem.Decode([]byte(b.Cert))
		cert, _ := x509.ParseCertificate(p.Bytes)
		return cert.SerialNumber.String()
	}
	newSerial := wantSerial(second)
	var sawNew atomic.Bool
	var failures atomic.Int64
	var firstErr atomic.Value
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, fresh := range []bool{false, true} {
		cl := hr.client(ca, true)
		cl.Transport.(*http.Transport).DisableKeepAlives = fresh
		wg.Go(func() {
			for ctx.Err() == nil {
				resp, err := cl.Get("https://a.example.com/")
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, resp.Status)
				}
				if fresh && leafOf(resp).SerialNumber.String() == newSerial {
					sawNew.Store(true)
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	fc.serve(cluster.CertSet{Version: 2, Certs: []cluster.CertBundle{second}})
	tp.change(func(rt *cluster.RoutingTable) { rt.Certs = 2 })
	testenv.Eventually(t, 15*time.Second, "new certificate served", sawNew.Load)
	time.Sleep(300 * time.Millisecond)
	cancel()
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d requests failed across the certificate change, first: %v", n, firstErr.Load())
	}

	// A bad bundle keeps the certificate held; the status says why.
	bad := ca.issue(t, "a.example.com")
	bad.Key = ca.issue(t, "a.example.com").Key
	fc.serve(cluster.CertSet{Version: 3, Certs: []cluster.CertBundle{bad}})
	tp.change(func(rt *cluster.RoutingTable) { rt.Certs = 3 })
	testenv.Eventually(t, 15*time.Second, "bad bundle reported", func() bool { return status(t, hr.url).Certs.Version == 3 })
	if e := status(t, hr.url).Certs.LastError; !strings.Contains(e, "a.example.com") || !strings.Contains(e, "kept") {
		t.Fatalf("last error %q", e)
	}
	resp, _ := get(t, hr.client(ca, true), "GET", "https://a.example.com/", "")
	if leafOf(resp).SerialNumber.String() != newSerial {
		t.Fatal("the held certificate was replaced by a bundle whose key does not match")
	}

	// A wrong router token is reported as such.
	fc.mu.Lock()
	fc.token = "another"
	fc.mu.Unlock()
	fc.serve(cluster.CertSet{Version: 4})
	tp.change(func(rt *cluster.RoutingTable) { rt.Certs = 4 })
	testenv.Eventually(t, 15*time.Second, "401 reported", func() bool {
		return strings.Contains(status(t, hr.url).Certs.LastError, "the router token is wrong: LONGSHOREMAN_ROUTER_TOKEN")
	})
}

func TestCertificatesFromHTTPSController(t *testing.T) {
	c := testRedis(t)
	ca := newTestCA(t)
	fc := startFakeController(t, "router-token", httptest.NewTLSServer)
	fc.serve(cluster.CertSet{Version: 7, Certs: []cluster.CertBundle{ca.issue(t, "a.example.com")}})
	ba, _ := backend(t, "a")
	ch := "test.router.https.controller-tls"
	publishTable(t, c, ch, cluster.RoutingTable{Version: 1, Controller: "c", Cluster: "k", Certs: 7,
		Routes: map[string][]string{"a.example.com": {ba}}})

	// Not trusting the controller's certificate: nothing fetched, and the
	// status says why.
	hr := runHTTPSRouter(t, router.RunConfig{Redis: pubsub.ClientOf(c), Channel: ch, Controller: fc.URL, RouterToken: "router-token"})
	testenv.Eventually(t, 10*time.Second, "fetch failure reported", func() bool { return status(t, hr.url).Certs.LastError != "" })
	if st := status(t, hr.url).Certs; st.Version != 0 || !strings.Contains(st.LastError, "certificate") {
		t.Fatalf("untrusted controller: %+v", st)
	}
	hr.stop()

	pool := x509.NewCertPool()
	pool.AddCert(fc.Certificate())
	hr = runHTTPSRouter(t, router.RunConfig{Redis: pubsub.ClientOf(c), Channel: ch, Controller: fc.URL, RouterToken: "router-token",
		ControllerTLS: &tls.Config{RootCAs: pool}})
	testenv.Eventually(t, 10*time.Second, "certificates fetched", func() bool { return status(t, hr.url).Certs.Version == 7 })
	testenv.Eventually(t, 10*time.Second, "table applied", func() bool { return status(t, hr.url).Version == 1 })
	if _, s := get(t, hr.client(ca, true), "GET", "https://a.example.com/", ""); s.Backend != "a" {
		t.Fatalf("backend %q", s.Backend)
	}
}
