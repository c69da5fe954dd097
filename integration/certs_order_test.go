//go:build integration

package integration

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// challengeGate stands between Pebble's validation and a router: it
// holds the first HTTP-01 request until released, so that a test acts
// while an order is pending at the CA, then passes it on to the router.
type challengeGate struct {
	addr     string
	pending  chan struct{} // closed when the first challenge request arrives
	release  chan struct{} // closed by the test to let it through
	once     sync.Once
	released sync.Once
}

// newChallengeGate listens on a free loopback port and proxies to the
// router at routerURL.
func newChallengeGate(t *testing.T, routerURL string) *challengeGate {
	t.Helper()
	g := &challengeGate{pending: make(chan struct{}), release: make(chan struct{})}
	target, err := url.Parse(routerURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host // the router answers challenges on any host
	}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.addr = l.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.once.Do(func() {
			close(g.pending)
			select {
			case <-g.release:
			case <-time.After(time.Minute):
			}
		})
		proxy.ServeHTTP(w, r)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { g.Release(); srv.Close() })
	return g
}

// Release lets the held request, and every later one, through.
func (g *challengeGate) Release() { g.released.Do(func() { close(g.release) }) }

// port is the gate's port, where Pebble validates.
func (g *challengeGate) port() int {
	_, p, _ := net.SplitHostPort(g.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// TestAddedCertificateWinsOverAPendingOrder turns HTTPS on for an app
// with Pebble as the CA and, while Pebble's HTTP-01 validation of the
// order is held on its way to the router, adds a certificate of the
// operator's for the domain (certs:add, POST /certs). The order then
// completes at the CA, but its certificate does not replace the added
// one: the store keeps it and the router serves it.
func TestAddedCertificateWinsOverAPendingOrder(t *testing.T) {
	redisAddr := testenv.Redis(t)
	testenv.Pebble(t)
	rhost, rport, _ := net.SplitHostPort(redisAddr)
	channel := "test.certorder." + strconv.FormatInt(time.Now().UnixNano(), 36)
	// Pebble's ports are chosen before the controller starts (it needs the
	// directory's URL) and taken when Pebble starts: the router's binary is
	// built first, so that little happens in between.
	Binary(t)
	ca := newPebble(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pebble log:\n%s", ca.log.String())
		}
	})
	ctlLog := &testenv.Log{}
	env := map[string]string{
		"LONGSHOREMAN_DB": filepath.Join(t.TempDir(), "ls.db"), "LONGSHOREMAN_INIT": "1", "LONGSHOREMAN_TOKEN": "t0ken-0123456789",
		"LONGSHOREMAN_LISTEN": "127.0.0.1:0", "REDIS_HOST": rhost, "REDIS_PORT": rport, "LONGSHOREMAN_CHANNEL": channel,
		"LONGSHOREMAN_ROUTES_KEY": testRoutesKey, "LONGSHOREMAN_REPUBLISH": "1s",
		"LONGSHOREMAN_ACME_EMAIL": "ops@example.com", "LONGSHOREMAN_ACME_DIRECTORY": ca.Directory, "LONGSHOREMAN_ACME_CA": ca.CAFile,
	}
	c := mustOpenServe(t, env, ctlLog, nil)
	routerToken, err := c.Store().RouterToken()
	if err != nil || routerToken == "" {
		t.Fatalf("router token %q, %v", routerToken, err)
	}
	httpsPort := testenv.FreePort(t)
	r := StartRouterEnv(t, redisAddr, "LONGSHOREMAN_CHANNEL="+channel, "HTTPS_PORT="+strconv.Itoa(httpsPort),
		"LONGSHOREMAN_URL="+c.URL(), "LONGSHOREMAN_ROUTER_TOKEN="+routerToken)
	gate := newChallengeGate(t, r.URL)
	ca.Start(t, gate.port(), time.Hour)
	logs := func() string {
		return "controller log:\n" + ctlLog.String() + "\npebble log:\n" + ca.log.String() + "\nrouter log:\n" + r.Log()
	}

	app := testenv.UniqueApp(t, "certorder")
	mustCall(t, c, "POST", "/apps", `{"app":"`+app+`"}`)
	mustCall(t, c, "POST", "/apps/"+app+"/https", `{"enabled": true}`)
	select {
	case <-gate.pending:
	case <-time.After(2 * time.Minute):
		t.Fatalf("Pebble did not validate the order's challenge within 2 minutes\n%s", logs())
	}

	// The order is pending at the CA: the operator adds a certificate.
	certPEM, keyPEM, own := routerTestCert(t, app)
	body, _ := json.Marshal(map[string]string{"domain": app, "cert": certPEM, "key": keyPEM})
	mustCall(t, c, "POST", "/certs", string(body))
	gate.Release()

	// The order ends; whatever it did, the added certificate stays.
	testenv.Eventually(t, time.Minute, "the order ends", func() bool {
		s := ctlLog.String()
		return strings.Contains(s, "certificate: issued") || strings.Contains(s, "dropped") || strings.Contains(s, "order failed")
	})
	if !strings.Contains(ctlLog.String(), "certificate: issued") && !strings.Contains(ctlLog.String(), "dropped") {
		t.Fatalf("the order did not complete at the CA, so the test proved nothing\n%s", logs())
	}
	stored, err := c.Store().Cert(app)
	if err != nil || stored.Source != cluster.CertManual || stored.Serial != own.SerialNumber.Text(16) || stored.Key != keyPEM {
		if stored != nil {
			t.Fatalf("stored after the order: source %s, issuer %s, serial %s; want the certificate added with certs:add (serial %s)\n%s", stored.Source, stored.Issuer, stored.Serial, own.SerialNumber.Text(16), logs())
		}
		t.Fatalf("nothing stored after the order (%v); want the certificate added with certs:add\n%s", err, logs())
	}
	pool := x509.NewCertPool()
	pool.AddCert(own)
	httpsAddr := testenv.Addr("127.0.0.1", httpsPort)
	var served string
	testenv.Eventually(t, 30*time.Second, "the router serves the added certificate", func() bool {
		conn, err := tls.Dial("tcp", httpsAddr, &tls.Config{ServerName: app, RootCAs: pool})
		if err != nil {
			return false
		}
		served = conn.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
		conn.Close()
		return served == own.SerialNumber.Text(16)
	})
}
