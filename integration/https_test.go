//go:build integration

package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/command"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// pebbleCA is Pebble (the ACME test CA) and pebble-challtestsrv (its DNS,
// resolving every name to 127.0.0.1) running on free loopback ports.
type pebbleCA struct {
	Directory string // the ACME directory URL
	CAFile    string // PEM of the CA that signed Pebble's listener certificate
	mgmt      string // host:port of Pebble's management interface
	listen    string
	dir       string
	client    *http.Client
	log       *testenv.Log
}

// newPebble chooses Pebble's ports and makes the certificate of its
// listener (Debian's package ships none), so that its directory URL is
// known before it starts.
func newPebble(t *testing.T) *pebbleCA {
	t.Helper()
	testenv.Pebble(t)
	certs := testenv.NewTLSCerts(t, "127.0.0.1")
	p := &pebbleCA{CAFile: filepath.Join(certs.Dir, "ca.pem"), log: &testenv.Log{}, dir: certs.Dir}
	p.listen = testenv.Addr("127.0.0.1", testenv.FreePort(t))
	p.mgmt = testenv.Addr("127.0.0.1", testenv.FreePort(t))
	p.Directory = "https://" + p.listen + "/dir"
	p.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.RootCAs()}}}
	return p
}

// Start starts Pebble with its HTTP-01 validation going to httpPort on
// 127.0.0.1 (where challtestsrv resolves every name) and certificates
// valid for validity, and waits until it answers.
func (p *pebbleCA) Start(t *testing.T, httpPort int, validity time.Duration) {
	t.Helper()
	pebbleBin, challBin := testenv.Pebble(t)
	dir, listen := p.dir, p.listen
	dns := testenv.Addr("127.0.0.1", testenv.FreePort(t))
	config, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress": listen, "managementListenAddress": p.mgmt,
		"certificate": filepath.Join(dir, "server-cert.pem"), "privateKey": filepath.Join(dir, "server-key.pem"),
		"httpPort": httpPort, "tlsPort": testenv.FreePort(t), "ocspResponderURL": "", "externalAccountBindingRequired": false,
		"certificateValidityPeriod": int(validity.Seconds()),
	}})
	configFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(configFile, config, 0o600); err != nil {
		t.Fatal(err)
	}
	start := func(bin string, env []string, args ...string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
		cmd.Stdout, cmd.Stderr = p.log, p.log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	start(challBin, nil, "-dns01", dns, "-http01", "", "-https01", "", "-tlsalpn01", "", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-management", testenv.Addr("127.0.0.1", testenv.FreePort(t)))
	start(pebbleBin, []string{"PEBBLE_VA_NOSLEEP=1"}, "-config", configFile, "-dnsserver", dns)
	testenv.Eventually(t, 20*time.Second, "pebble answers its directory", func() bool {
		resp, err := p.client.Get(p.Directory)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
}

// Root returns Pebble's root certificate (it makes a new one at each start).
func (p *pebbleCA) Root(t *testing.T) *x509.CertPool {
	t.Helper()
	resp, err := p.client.Get("https://" + p.mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("pebble's root is not PEM: %q", b)
	}
	return pool
}

// httpsClient sends requests for app to addr over HTTPS, trusting roots,
// with a new connection (a full handshake) for each request.
func httpsClient(roots *x509.CertPool, addr string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots}, DisableKeepAlives: true, ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}}
}

// httpsGet GETs https://app/ and returns the status, the body and the
// serial of the certificate served.
func httpsGet(client *http.Client, app string) (int, string, string, error) {
	resp, err := client.Get("https://" + app + "/")
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.TLS.PeerCertificates[0].SerialNumber.Text(16), nil
}

// secretsIn names the PEM secrets or certificates found in s.
func secretsIn(s string) string {
	var found []string
	for _, w := range []string{"PRIVATE KEY", "CERTIFICATE"} {
		if strings.Contains(s, w) {
			found = append(found, w)
		}
	}
	return strings.Join(found, ", ")
}

// TestHTTPSWithPebble is the whole of HTTPS with a real ACME CA: an app
// deployed with HTTPS on gets a certificate from Pebble validated over
// HTTP-01 through a router; two routers serve it over HTTPS with Pebble's
// chain; plain HTTP redirects; the certificate is renewed once a third of
// its lifetime remains, and the new one is served with no request lost;
// with the controller stopped a restarted router serves the app over HTTPS
// from its certificate cache and kept routing table. No key or certificate reaches Redis, the logs or the API answers.
func TestHTTPSWithPebble(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	redisAddr := testenv.Redis(t)
	image := testenv.Image(t, "1")
	testenv.Pebble(t)
	rhost, rport, _ := net.SplitHostPort(redisAddr)
	channel := "test.https." + strconv.FormatInt(time.Now().UnixNano(), 36)

	// Everything published on the channel, to look for secrets.
	rc := redis.NewClient(&redis.Options{Addr: redisAddr})
	t.Cleanup(func() { rc.Close() })
	sub := rc.Subscribe(context.Background(), channel)
	t.Cleanup(func() { sub.Close() })
	if _, err := sub.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	var published strings.Builder
	var publishedMu sync.Mutex // guards published
	go func() {
		for m := range sub.Channel() {
			publishedMu.Lock()
			published.WriteString(m.Payload + "\n")
			publishedMu.Unlock()
		}
	}()

	// The controller starts first, with Pebble's directory URL, so that
	// the routers can be given its URL; Pebble starts once the first
	// router's HTTP port, where it validates, is known.
	const validity = 90 * time.Second // renewed 60s after issue
	path := filepath.Join(t.TempDir(), "ls.db")
	ctlLog := &testenv.Log{}
	ca := newPebble(t)
	env := map[string]string{
		"LONGSHOREMAN_DB": path, "LONGSHOREMAN_INIT": "1", "LONGSHOREMAN_TOKEN": "t0ken-0123456789", "LONGSHOREMAN_LISTEN": "127.0.0.1:0",
		"REDIS_HOST": rhost, "REDIS_PORT": rport, "LONGSHOREMAN_CHANNEL": channel, "LONGSHOREMAN_ROUTES_KEY": testRoutesKey,
		"LONGSHOREMAN_REPUBLISH": "1s", "LONGSHOREMAN_DRAIN": "1s",
		"LONGSHOREMAN_ACME_EMAIL": "ops@example.com", "LONGSHOREMAN_ACME_DIRECTORY": ca.Directory, "LONGSHOREMAN_ACME_CA": ca.CAFile,
	}
	serve := func() *command.ServeCommand { return mustOpenServe(t, env, ctlLog, nil) }
	c := serve()
	certEvents := followEvents(t, c, "")
	ctlURL := c.URL()
	routerToken, err := c.Store().RouterToken()
	if err != nil || routerToken == "" {
		t.Fatalf("router token %q, %v", routerToken, err)
	}
	addHosts(t, c, hosts[:2]...)
	app := testenv.App(t, "https")
	mustCall(t, c, "POST", "/apps/"+app+"/deploy", `{"image":"`+image+`","count":2}`)

	type httpsRouter struct {
		*Router
		state     string
		httpsAddr string
	}
	startRouter := func(state string) httpsRouter {
		httpsPort := testenv.FreePort(t)
		r := StartRouterEnv(t, redisAddr, "LONGSHOREMAN_CHANNEL="+channel, "LONGSHOREMAN_ROUTER_STATE="+state,
			"HTTPS_PORT="+strconv.Itoa(httpsPort), "LONGSHOREMAN_URL="+ctlURL, "LONGSHOREMAN_ROUTER_TOKEN="+routerToken)
		return httpsRouter{Router: r, state: state, httpsAddr: testenv.Addr("127.0.0.1", httpsPort)}
	}
	routers := []httpsRouter{startRouter(t.TempDir()), startRouter(t.TempDir())}
	_, router1Port, _ := net.SplitHostPort(strings.TrimPrefix(routers[0].URL, "http://"))
	port, _ := strconv.Atoi(router1Port)
	ca.Start(t, port, validity)
	logs := func() string {
		s := "controller log:\n" + ctlLog.String() + "\npebble log:\n" + ca.log.String()
		for i, r := range routers {
			s += fmt.Sprintf("\nrouter %d log:\n%s", i+1, r.Log())
		}
		return s
	}

	// HTTPS on: the certificate is issued.
	began := time.Now()
	mustCall(t, c, "POST", "/apps/"+app+"/https", `{"enabled": true}`)
	var serial string
	deadline := time.Now().Add(2 * time.Minute)
	for serial == "" {
		cert, err := c.Store().Cert(app)
		if err == nil && cert.Issued() {
			serial = cert.Serial
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no certificate within 2 minutes: %+v %v\n%s", cert, err, logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("certificate issued %s after HTTPS was turned on", time.Since(began).Round(time.Millisecond))
	certEvents.Wait(t, "the issue on GET /events", 10*time.Second, is("cert", "issued", app))
	if table, _ := c.Store().RoutingTable(); len(table.Challenges) != 0 {
		t.Fatalf("challenges left in the table after validation: %v", table.Challenges)
	}

	// Both routers serve it over HTTPS with Pebble's chain.
	roots := ca.Root(t)
	for i, r := range routers {
		client := httpsClient(roots, r.httpsAddr)
		var status int
		var body, got string
		testenv.Eventually(t, 30*time.Second, fmt.Sprintf("router %d serves the certificate", i+1), func() bool {
			status, body, got, err = httpsGet(client, app)
			return err == nil && status == 200 && got == serial
		})
		if !strings.Contains(body, "version=1") {
			t.Fatalf("router %d over HTTPS: %d %q", i+1, status, body)
		}
	}
	// Plain HTTP redirects to HTTPS.
	noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", routers[0].URL+"/page?x=1", nil)
	req.Host = app
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, httpsPort, _ := net.SplitHostPort(routers[0].httpsAddr)
	if want := "https://" + app + ":" + httpsPort + "/page?x=1"; resp.StatusCode != 308 || resp.Header.Get("Location") != want {
		t.Fatalf("plain HTTP: %d %q, want 308 to %s", resp.StatusCode, resp.Header.Get("Location"), want)
	}

	// Renewal at two thirds of the lifetime: a client going through both
	// routers, a new handshake each time, sees the new serial and loses
	// nothing.
	var total, failures atomic.Int64
	var lastErr atomic.Value
	var serialsMu sync.Mutex // guards serials
	serials := map[string]int{}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		clients := []*http.Client{httpsClient(roots, routers[0].httpsAddr), httpsClient(roots, routers[1].httpsAddr)}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			status, _, got, err := httpsGet(clients[i%2], app)
			total.Add(1)
			if err != nil || status != 200 {
				failures.Add(1)
				lastErr.Store(fmt.Sprintf("%d %v", status, err))
			} else {
				serialsMu.Lock()
				serials[got]++
				serialsMu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	newSerial := func() string {
		serialsMu.Lock()
		defer serialsMu.Unlock()
		for s := range serials {
			if s != serial {
				return s
			}
		}
		return ""
	}
	deadline = time.Now().Add(validity + 30*time.Second)
	for newSerial() == "" && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // both routers, alternately, after the switch
	close(stop)
	<-done
	renewed := newSerial()
	t.Logf("%d HTTPS requests through two routers during the renewal, %d failed; serials served: %v", total.Load(), failures.Load(), serials)
	if renewed == "" {
		t.Fatalf("the renewed certificate was not served within %s\n%s", validity+30*time.Second, logs())
	}
	if failures.Load() != 0 {
		t.Fatalf("%d of %d requests failed during the renewal; last: %v\n%s", failures.Load(), total.Load(), lastErr.Load(), logs())
	}
	if cert, _ := c.Store().Cert(app); cert == nil || cert.Serial == serial || cert.Source != "acme" {
		t.Fatalf("stored certificate after renewal: %+v", cert)
	}
	if !strings.Contains(ctlLog.String(), "certificate: renewed") {
		t.Fatalf("no renewal logged\n%s", ctlLog.String())
	}

	// No key or certificate on Redis, in the logs, or in the API's answers
	// but the router token's.
	publishedMu.Lock()
	onRedis := published.String()
	publishedMu.Unlock()
	if !strings.Contains(onRedis, `"certs":`) || !strings.Contains(onRedis, `"https":`) {
		t.Fatalf("the published tables carry no HTTPS fields: %.500s", onRedis)
	}
	if s := secretsIn(onRedis); s != "" {
		t.Fatalf("the Redis channel carried %s", s)
	}
	for _, p := range []string{"/certs", "/apps/" + app, "/describe", "/routes", "/apps", "/healthz"} {
		if _, b := call(t, c, "GET", p, ""); secretsIn(string(b)) != "" {
			t.Fatalf("GET %s carries %s: %s", p, secretsIn(string(b)), b)
		}
	}
	if s := secretsIn(ctlLog.String()); s != "" {
		t.Fatalf("the controller logged %s", s)
	}
	for i, r := range routers {
		if s := secretsIn(r.Log()); s != "" {
			t.Fatalf("router %d logged %s", i+1, s)
		}
	}

	// The controller stops; a router restarted then serves HTTPS from its
	// cache: the handshake presents the renewed certificate.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	routers[0].cmd.Process.Kill()
	routers[0].cmd.Wait()
	routers[0] = startRouter(routers[0].state)
	var conn *tls.Conn
	testenv.Eventually(t, 15*time.Second, "the restarted router completes a handshake from its cache", func() bool {
		conn, err = tls.Dial("tcp", routers[0].httpsAddr, &tls.Config{ServerName: app, RootCAs: roots})
		return err == nil
	})
	got := conn.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
	conn.Close()
	if got == serial {
		t.Fatalf("the restarted router served the first certificate %s, not the renewed one", got)
	}
	// With the controller still away, the routing table the router kept
	// in its state directory serves the app over HTTPS.
	client := httpsClient(roots, routers[0].httpsAddr)
	testenv.Eventually(t, 15*time.Second, "the restarted router serves the app over HTTPS with the controller away", func() bool {
		status, _, _, err := httpsGet(client, app)
		return err == nil && status == 200
	})
	// The controller comes back: the router takes its tables again and
	// serves the app over HTTPS.
	c = serve()
	testenv.Eventually(t, 30*time.Second, "the restarted router serves the app over HTTPS once the controller is back", func() bool {
		status, _, _, err := httpsGet(client, app)
		return err == nil && status == 200
	})
}

// TestOnlyTheLeaderOrdersCertificates runs three controllers on one etcd
// prefix with a CA that does not answer: HTTPS turned on through a
// follower makes the leader alone attempt an order (one failure recorded,
// retried after the backoff, not at once by another controller); a
// follower serves the router token's certificate set from the store.
func TestOnlyTheLeaderOrdersCertificates(t *testing.T) {
	t.Parallel()
	url := etcdTestURL(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + l.Addr().String() + "/dir"
	l.Close()
	env := map[string]string{"LONGSHOREMAN_ACME_EMAIL": "ops@example.com", "LONGSHOREMAN_ACME_DIRECTORY": closed}
	ctrls, logs, _, leader := serveEtcdControllers(t, url, 3, env)
	follower := ctrls[(leader+1)%3]
	mustCall(t, follower, "POST", "/apps", `{"app":"shop.example.com"}`)
	mustCall(t, follower, "POST", "/apps/shop.example.com/https", `{"enabled":true}`)
	testenv.Eventually(t, 30*time.Second, "the leader records a failed order", func() bool {
		c, err := follower.Store().Cert("shop.example.com")
		return err == nil && c.Failures > 0
	})
	time.Sleep(3 * time.Second) // every controller's loop had its chance
	c, _ := follower.Store().Cert("shop.example.com")
	if c.Failures != 1 || c.LastError == "" || time.Until(c.NextAttempt) < 30*time.Second {
		t.Fatalf("certificate record %+v: want one failure, retried after the backoff", c)
	}
	for i, log := range logs {
		ordered := strings.Contains(log.String(), "certificate: ordering")
		if ordered != (i == leader) {
			t.Errorf("controller %d (leader %d) ordered: %v", i, leader, ordered)
		}
	}
	routerToken, _ := follower.Store().RouterToken()
	req, _ := http.NewRequest("GET", follower.URL()+"/router/certs", nil)
	req.Header.Set("Authorization", "Bearer "+routerToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Longshoreman-Forwarded") != "" {
		t.Fatalf("GET /router/certs on a follower: %d", resp.StatusCode)
	}
}

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
