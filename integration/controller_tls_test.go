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
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/command"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// nonLoopbackIP returns an IPv4 address of this machine that is not a
// loopback one: net/http never sends a request for a loopback address
// through a proxy of the environment, so only there does a test see
// whether HTTP_PROXY is ignored. The test dockerd's bridge (docker0) is
// one.
func nonLoopbackIP(t *testing.T) string {
	t.Helper()
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok || ipnet.IP.To4() == nil || ipnet.IP.IsLoopback() || ipnet.IP.IsLinkLocalUnicast() {
			continue
		}
		if l, err := net.Listen("tcp", net.JoinHostPort(ipnet.IP.String(), "0")); err == nil {
			l.Close()
			return ipnet.IP.String()
		}
	}
	t.Fatal("this machine has no IPv4 address but loopback ones (not even the test dockerd's docker0 bridge): the test needs one to see that HTTP_PROXY is ignored")
	return ""
}

// closedURL returns an http URL on a loopback port where nothing listens:
// a proxy that refuses every connection.
func closedProxy(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "http://" + l.Addr().String()
}

// tlsClient trusts only the test CA of pki.
func tlsClient(pki *testenv.TLSCerts) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.RootCAs()}}}
}

// apiCall sends an API request with the test token and returns the status
// and the body; status 0 when the request did not get an answer.
func apiCall(client *http.Client, url, method, path, body string) (int, string) {
	req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
	req.Header.Set("X-Auth", "t0ken-0123456789")
	status, b, err := readAnswer(client, req)
	if err != nil {
		return 0, err.Error()
	}
	return status, b
}

// handshakeSerial dials addr for app trusting roots and returns the serial
// of the certificate served, "" when the handshake fails.
func handshakeSerial(addr, app string, roots *x509.CertPool) string {
	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: app, RootCAs: roots})
	if err != nil {
		return ""
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
}

// TestRouterFetchesKeysOverTLSOnly runs routers as processes with
// HTTP_PROXY and HTTPS_PROXY pointing at a port where nothing listens,
// against controllers on a non-loopback address of this machine. With the
// controller's https URL and its private CA in LONGSHOREMAN_CACERT, the
// router fetches the certificates directly and serves them. With a plain
// http URL it refuses to start, naming --insecure-controller; with that
// switch it fetches, and says at every fetch that the keys crossed the
// network in clear.
func TestRouterFetchesKeysOverTLSOnly(t *testing.T) {
	redisAddr := testenv.Redis(t)
	rhost, rport, _ := net.SplitHostPort(redisAddr)
	ip := nonLoopbackIP(t)
	pki := testenv.NewTLSCerts(t, ip)
	proxy := closedProxy(t)
	// Each controller publishes on a channel of its own, which its router
	// follows: a router serves the first cluster it hears.
	channel := "test.routertls." + strconv.FormatInt(time.Now().UnixNano(), 36)
	serve := func(name string, extra map[string]string) (*command.ServeCommand, *http.Client) {
		t.Helper()
		env := map[string]string{"LONGSHOREMAN_DB": filepath.Join(t.TempDir(), "ls.db"), "LONGSHOREMAN_INIT": "1", "LONGSHOREMAN_TOKEN": "t0ken-0123456789",
			"LONGSHOREMAN_LISTEN": net.JoinHostPort(ip, "0"), "REDIS_HOST": rhost, "REDIS_PORT": rport, "LONGSHOREMAN_CHANNEL": channel + "." + name,
			"LONGSHOREMAN_ROUTES_KEY": testRoutesKey, "LONGSHOREMAN_REPUBLISH": "1s"}
		for k, v := range extra {
			env[k] = v
		}
		return mustOpenServe(t, env, io.Discard, nil), tlsClient(pki)
	}
	addCert := func(c *command.ServeCommand, client *http.Client, app string) (*x509.CertPool, string) {
		t.Helper()
		certPEM, keyPEM, leaf := routerTestCert(t, app)
		body, _ := json.Marshal(map[string]string{"domain": app, "cert": certPEM, "key": keyPEM})
		if status, b := apiCall(client, c.URL(), "POST", "/certs", string(body)); status != 200 {
			t.Fatalf("POST /certs to %s = %d %s", c.URL(), status, b)
		}
		pool := x509.NewCertPool()
		pool.AddCert(leaf)
		return pool, leaf.SerialNumber.Text(16)
	}
	routerEnv := func(c *command.ServeCommand, httpsPort int, extra ...string) []string {
		routerToken, err := c.Store().RouterToken()
		if err != nil || routerToken == "" {
			t.Fatalf("router token %q, %v", routerToken, err)
		}
		return append([]string{"LONGSHOREMAN_CHANNEL=" + c.Config.Redis.Channel, "HTTPS_PORT=" + strconv.Itoa(httpsPort), "LONGSHOREMAN_URL=" + c.URL(),
			"LONGSHOREMAN_ROUTER_TOKEN=" + routerToken, "HTTP_PROXY=" + proxy, "HTTPS_PROXY=" + proxy}, extra...)
	}

	// An https controller signed by a private CA: fetched directly.
	secure, client := serve("secure", map[string]string{"LONGSHOREMAN_TLS_CERT": filepath.Join(pki.Dir, "server-cert.pem"), "LONGSHOREMAN_TLS_KEY": filepath.Join(pki.Dir, "server-key.pem")})
	if !strings.HasPrefix(secure.URL(), "https://"+ip+":") {
		t.Fatalf("the controller's URL is %s, want https on %s", secure.URL(), ip)
	}
	app := testenv.UniqueApp(t, "routertls")
	roots, serial := addCert(secure, client, app)
	httpsPort := testenv.FreePort(t)
	r := StartRouterEnv(t, redisAddr, routerEnv(secure, httpsPort, "LONGSHOREMAN_CACERT="+filepath.Join(pki.Dir, "ca.pem"))...)
	httpsAddr := testenv.Addr("127.0.0.1", httpsPort)
	deadline := time.Now().Add(30 * time.Second)
	for handshakeSerial(httpsAddr, app, roots) != serial {
		if time.Now().After(deadline) {
			t.Fatalf("the router did not serve the certificate of the https controller within 30s\nrouter log:\n%s", r.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A plain http controller on another address than loopback: refused.
	plain, _ := serve("plain", nil)
	if !strings.HasPrefix(plain.URL(), "http://"+ip+":") {
		t.Fatalf("the controller's URL is %s, want http on %s", plain.URL(), ip)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	refused := exec.CommandContext(ctx, Binary(t), "router", "--listen", testenv.Addr("127.0.0.1", testenv.FreePort(t)))
	host, port, _ := net.SplitHostPort(redisAddr)
	refused.Env = append([]string{"PATH=" + os.Getenv("PATH"), "REDIS_HOST=" + host, "REDIS_PORT=" + port, "LONGSHOREMAN_ROUTES_KEY=" + testRoutesKey},
		routerEnv(plain, testenv.FreePort(t))...)
	out, err := refused.CombinedOutput()
	if err == nil || ctx.Err() != nil || !strings.Contains(string(out), "plain HTTP to another machine") || !strings.Contains(string(out), "--insecure-controller") {
		t.Fatalf("a router given %s: %v (timed out: %v)\n%s", plain.URL(), err, ctx.Err() != nil, out)
	}

	// With --insecure-controller it fetches, and says so at every fetch.
	app2 := testenv.UniqueApp(t, "routerplain")
	roots2, serial2 := addCert(plain, &http.Client{Timeout: 10 * time.Second}, app2)
	httpsPort2 := testenv.FreePort(t)
	r2 := StartRouterEnv(t, redisAddr, routerEnv(plain, httpsPort2, "LONGSHOREMAN_INSECURE_CONTROLLER=1")...)
	httpsAddr2 := testenv.Addr("127.0.0.1", httpsPort2)
	testenv.Eventually(t, 30*time.Second, "the router serves the certificate of the plain http controller", func() bool {
		return handshakeSerial(httpsAddr2, app2, roots2) == serial2
	})
	app3 := testenv.UniqueApp(t, "routerplain")
	roots3, serial3 := addCert(plain, &http.Client{Timeout: 10 * time.Second}, app3)
	testenv.Eventually(t, 30*time.Second, "the router serves a second certificate of the plain http controller", func() bool {
		return handshakeSerial(httpsAddr2, app3, roots3) == serial3
	})
	// The router logs a fetch once it installed what it fetched, and the
	// warning before it asks.
	var log string
	var fetched, warned int
	testenv.Eventually(t, 60*time.Second, "the router logs its second fetch", func() bool {
		log = r2.Log()
		fetched, warned = strings.Count(log, "certificates fetched"), strings.Count(log, "over plain HTTP (--insecure-controller)")
		return fetched >= 2
	})
	if warned < fetched {
		t.Fatalf("%d fetches, %d warnings of plain HTTP: want one at every fetch\nrouter log:\n%s", fetched, warned, log)
	}
	if strings.Contains(r.Log(), "over plain HTTP") {
		t.Fatalf("the router of the https controller warned of plain HTTP\n%s", r.Log())
	}
}

// tlsController is `longshoreman serve` as a process with its API over
// TLS, so that its environment (HTTP_PROXY) is its own.
type tlsController struct {
	URL string
	cmd *exec.Cmd
	log *os.File
}

func (c *tlsController) Log() string {
	b, _ := os.ReadFile(c.log.Name())
	return string(b)
}

// startTLSController starts a controller on the etcd prefix url, its API
// on ip over TLS with pki's server certificate, advertised as such.
func startTLSController(t *testing.T, url, ip string, pki *testenv.TLSCerts, env ...string) *tlsController {
	t.Helper()
	port := testenv.FreePort(t)
	c := &tlsController{URL: fmt.Sprintf("https://%s", net.JoinHostPort(ip, strconv.Itoa(port)))}
	c.cmd = exec.Command(Binary(t), "serve")
	c.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LONGSHOREMAN_DB=" + url, "LONGSHOREMAN_INIT=1",
		"LONGSHOREMAN_TOKEN=t0ken-0123456789", "LONGSHOREMAN_LISTEN=" + net.JoinHostPort(ip, strconv.Itoa(port)), "LONGSHOREMAN_ADVERTISE=" + c.URL,
		"LONGSHOREMAN_TLS_CERT=" + filepath.Join(pki.Dir, "server-cert.pem"), "LONGSHOREMAN_TLS_KEY=" + filepath.Join(pki.Dir, "server-key.pem"),
		"LONGSHOREMAN_ROUTES_KEY=" + testRoutesKey, "LONGSHOREMAN_SECRETS_KEY=" + testSecretsKey, "REDIS_PORT=1", "LONGSHOREMAN_LEASE=" + testLease.String()}, env...)
	var err error
	if c.log, err = os.CreateTemp(t.TempDir(), "controller-*.log"); err != nil {
		t.Fatal(err)
	}
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		c.cmd.Wait()
		if t.Failed() {
			t.Logf("controller %s log:\n%s", c.URL, c.Log())
		}
	})
	client := tlsClient(pki)
	testenv.Eventually(t, 15*time.Second, "the controller at "+c.URL+" answers", func() bool {
		status, _ := apiCall(client, c.URL, "GET", "/healthz", "")
		return status != 0
	})
	return c
}

// TestFollowerForwardsOverTLSWithItsCA runs two controllers as processes
// on the shared etcd, their APIs over TLS with certificates of a private
// CA on a non-loopback address, each with LONGSHOREMAN_CACERT naming that
// CA and HTTP_PROXY and HTTPS_PROXY pointing at a port where nothing
// listens. A write sent to the follower is forwarded to the leader, which
// the follower reaches directly and verifies with its CA.
func TestFollowerForwardsOverTLSWithItsCA(t *testing.T) {
	url := etcdTestURL(t)
	ip := nonLoopbackIP(t)
	pki := testenv.NewTLSCerts(t, ip)
	proxy := closedProxy(t)
	env := []string{"LONGSHOREMAN_CACERT=" + filepath.Join(pki.Dir, "ca.pem"), "HTTP_PROXY=" + proxy, "HTTPS_PROXY=" + proxy}
	ctrls := []*tlsController{startTLSController(t, url, ip, pki, env...), startTLSController(t, url, ip, pki, env...)}
	client := tlsClient(pki)
	role := func(c *tlsController) (string, string) {
		status, body := apiCall(client, c.URL, "GET", "/healthz", "")
		var h struct {
			Role      string `json:"role"`
			LeaderURL string `json:"leader_url"`
		}
		if status == 0 || json.Unmarshal([]byte(body), &h) != nil {
			return "", ""
		}
		return h.Role, h.LeaderURL
	}
	var follower, leader *tlsController
	testenv.Eventually(t, 30*time.Second, "one controller leads and the other follows it", func() bool {
		r0, l0 := role(ctrls[0])
		r1, l1 := role(ctrls[1])
		switch {
		case r0 == "leader" && r1 == "follower" && l1 == ctrls[0].URL:
			leader, follower = ctrls[0], ctrls[1]
		case r1 == "leader" && r0 == "follower" && l0 == ctrls[1].URL:
			leader, follower = ctrls[1], ctrls[0]
		default:
			return false
		}
		return true
	})
	app := testenv.UniqueApp(t, "forwardtls")
	if status, body := apiCall(client, follower.URL, "POST", "/apps", `{"app":"`+app+`"}`); status != 200 {
		t.Fatalf("POST /apps to the follower = %d %s", status, body)
	}
	if status, body := apiCall(client, leader.URL, "GET", "/apps/"+app, ""); status != 200 {
		t.Fatalf("GET /apps/%s on the leader = %d %s", app, status, body)
	}
	if status, body := apiCall(client, follower.URL, "POST", "/apps/"+app+"/settings", `{"drain":"1s"}`); status != 200 || !strings.Contains(body, `"drain":"1s"`) {
		t.Fatalf("POST settings to the follower = %d %s", status, body)
	}
}
