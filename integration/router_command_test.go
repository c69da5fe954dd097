//go:build integration

package integration

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/command"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/pubsub"
	"github.com/longshoreman/longshoreman/router"
)

type fixedTable struct{ t cluster.RoutingTable }

func (f fixedTable) RoutingTable() (cluster.RoutingTable, error) { return f.t, nil }

// publishTable publishes table, sealed with the test routes key, on a new
// channel (name and the time) of the test Redis every 200ms until the test
// ends. It returns the environment of a router that takes the table and
// listens on a free port (LONGSHOREMAN_LISTEN).
func publishTable(t *testing.T, name string, table cluster.RoutingTable) map[string]string {
	t.Helper()
	channel := "test." + name + "." + strconv.FormatInt(time.Now().UnixNano(), 36)
	rc := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	t.Cleanup(func() { rc.Close() })
	pub := pubsub.NewPublisher(pubsub.PublisherConfig{Client: pubsub.ClientOf(rc), Channel: channel, Republish: 200 * time.Millisecond,
		Key: []byte(testRoutesKey), Source: fixedTable{table}})
	pctx, pcancel := context.WithCancel(context.Background())
	pdone := make(chan struct{})
	go func() { pub.Run(pctx); close(pdone) }()
	t.Cleanup(func() { pcancel(); <-pdone })

	host, port, _ := net.SplitHostPort(testenv.Redis(t))
	return map[string]string{"LONGSHOREMAN_LISTEN": testenv.Addr("127.0.0.1", testenv.FreePort(t)), "REDIS_HOST": host, "REDIS_PORT": port,
		"LONGSHOREMAN_CHANNEL": channel, "LONGSHOREMAN_ROUTES_KEY": testRoutesKey}
}

// runRouterCommand runs `longshoreman router` in-process with env and args
// until the test ends; it must then stop within 15s, without an error.
func runRouterCommand(t *testing.T, env map[string]string, stderr io.Writer, args ...string) {
	t.Helper()
	cmd := &command.RouterCommand{Stderr: stderr, Getenv: func(k string) string { return env[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.Run(ctx, args) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("router: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("the router did not stop within 15s")
		}
	})
}

// TestRouterCommandHTTPS runs `longshoreman router --https-port` in-process:
// certificates from an https controller endpoint (trusted through
// LONGSHOREMAN_CACERT) with the router token, HTTP/2 to the app, the
// redirect from plain HTTP, and the cache in the state directory.
func TestRouterCommandHTTPS(t *testing.T) {
	t.Parallel()
	certPEM, keyPEM, leaf := routerTestCert(t, "shop.example.com")
	var fetches atomic.Int64
	ctl := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != router.CertsPath || r.Header.Get("Authorization") != "Bearer router-token-0123456789" {
			http.Error(w, `{"error":"the router token is wrong"}`, http.StatusUnauthorized)
			return
		}
		fetches.Add(1)
		json.NewEncoder(w).Encode(cluster.CertSet{Version: 2, Certs: []cluster.CertBundle{{Domain: "shop.example.com", Cert: certPEM, Key: keyPEM, NotAfter: leaf.NotAfter}}})
	}))
	t.Cleanup(ctl.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ctl.Certificate().Raw}), 0o644)

	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto+" "+r.Header.Get("X-Forwarded-Proto"))
	}))
	t.Cleanup(app.Close)
	env := publishTable(t, "routerhttps", cluster.RoutingTable{Version: 1, Epoch: 1, Controller: "c", Cluster: "https", Certs: 2,
		Routes: map[string][]string{"shop.example.com": {app.Listener.Addr().String()}},
		HTTPS:  map[string]cluster.HTTPSRoute{"shop.example.com": {Redirect: true}}})
	addr := env["LONGSHOREMAN_LISTEN"]
	httpsPort := testenv.FreePort(t)
	state := t.TempDir()
	env["LONGSHOREMAN_URL"], env["LONGSHOREMAN_ROUTER_TOKEN"], env["LONGSHOREMAN_CACERT"] = ctl.URL, "router-token-0123456789", caFile
	var stderr testenv.Log
	runRouterCommand(t, env, &stderr, "--https-port", strconv.Itoa(httpsPort), "--state-dir", state)

	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	httpsAddr := testenv.Addr("127.0.0.1", httpsPort)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{ForceAttemptHTTP2: true,
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, httpsAddr)
		}}}
	var body string
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get("https://shop.example.com/")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if body = string(b); resp.StatusCode == 200 {
				if resp.Proto != "HTTP/2.0" {
					t.Fatalf("proto %s", resp.Proto)
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no HTTPS answer within 15s: %v %q", err, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if body != "HTTP/1.1 https" {
		t.Fatalf("the app saw %q, want HTTP/1.1 with X-Forwarded-Proto https", body)
	}

	noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", "http://"+addr+"/cart?id=3", nil)
	req.Host = "shop.example.com"
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "https://shop.example.com:" + strconv.Itoa(httpsPort) + "/cart?id=3"; resp.StatusCode != 308 || resp.Header.Get("Location") != want {
		t.Fatalf("plain HTTP: %d %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}

	fi, err := os.Stat(filepath.Join(state, "certs.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("cache: %v %v", fi, err)
	}
	if strings.Contains(stderr.String(), "PRIVATE KEY") || strings.Contains(stderr.String(), "router-token-0123456789") {
		t.Fatal("the router logged a key or its token")
	}
}

// TestRouterCommandLimits runs `longshoreman router` in-process against the
// real Redis with a hung instance and one that echoes its headers.
func TestRouterCommandLimits(t *testing.T) {
	t.Parallel()
	hungLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hungLn.Close() })
	go func() {
		for {
			c, err := hungLn.Accept()
			if err != nil {
				return
			}
			go func() { // read, never answer, until the router hangs up
				defer c.Close()
				io.Copy(io.Discard, c)
			}()
		}
	}()
	echo := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(r.Header)
	})}
	echoLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go echo.Serve(echoLn)
	t.Cleanup(func() { echo.Close() })

	env := publishTable(t, "routerlimits", cluster.RoutingTable{Version: 3, Epoch: 1, Controller: "c", Cluster: "limits", Routes: map[string][]string{
		"hung.example.com": {hungLn.Addr().String()}, "echo.example.com": {echoLn.Addr().String()},
	}})
	addr := env["LONGSHOREMAN_LISTEN"]
	env["LONGSHOREMAN_BACKEND_TIMEOUT"] = "1s"
	runRouterCommand(t, env, io.Discard, "--trust-forwarded", "192.0.2.0/24")

	// /_ping turns 200 once the published table arrived.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/_ping")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && string(b) == "pong" {
				break
			}
			if resp.StatusCode != 503 {
				t.Fatalf("/_ping: %d %q", resp.StatusCode, b)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/_ping did not answer pong within 10s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	for _, method := range []string{"GET", "POST"} {
		req, _ := http.NewRequest(method, "http://"+addr+"/", strings.NewReader("x"))
		if method == "GET" {
			req.Body, req.ContentLength = nil, 0
		}
		req.Host = "hung.example.com"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 504 || !strings.Contains(string(b), "hung.example.com did not answer within 1s") {
			t.Fatalf("%s to a hung instance: %d %q", method, resp.StatusCode, b)
		}
	}

	// 127.0.0.1 is not in 192.0.2.0/24: the client's chain is replaced.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: echo.example.com\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Header
	json.NewDecoder(resp.Body).Decode(&h)
	if got := h.Get("X-Forwarded-For"); got != "127.0.0.1" {
		t.Fatalf("X-Forwarded-For = %q, want the peer alone", got)
	}
}
