//go:build integration

package integration

import (
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

	"github.com/longshoreman/longshoreman/command"

	"github.com/redis/go-redis/v9"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/pubsub"
	"github.com/longshoreman/longshoreman/router"
)

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
	channel := "test.routerhttps." + strconv.FormatInt(time.Now().UnixNano(), 36)
	rc := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	t.Cleanup(func() { rc.Close() })
	pub := pubsub.NewPublisher(pubsub.PublisherConfig{Client: pubsub.ClientOf(rc), Channel: channel, Republish: 200 * time.Millisecond,
		Key: []byte(testRoutesKey), Source: fixedTable{cluster.RoutingTable{Version: 1, Epoch: 1, Controller: "c", Cluster: "https", Certs: 2,
			Routes: map[string][]string{"shop.example.com": {app.Listener.Addr().String()}},
			HTTPS:  map[string]cluster.HTTPSRoute{"shop.example.com": {Redirect: true}}}}})
	pctx, pcancel := context.WithCancel(context.Background())
	pdone := make(chan struct{})
	go func() { pub.Run(pctx); close(pdone) }()
	t.Cleanup(func() { pcancel(); <-pdone })

	host, port, _ := net.SplitHostPort(testenv.Redis(t))
	addr := testenv.Addr("127.0.0.1", testenv.FreePort(t))
	httpsPort := testenv.FreePort(t)
	state := t.TempDir()
	env := map[string]string{"LONGSHOREMAN_LISTEN": addr, "REDIS_HOST": host, "REDIS_PORT": port,
		"LONGSHOREMAN_CHANNEL": channel, "LONGSHOREMAN_ROUTES_KEY": testRoutesKey,
		"LONGSHOREMAN_URL": ctl.URL, "LONGSHOREMAN_ROUTER_TOKEN": "router-token-0123456789", "LONGSHOREMAN_CACERT": caFile}
	var stderr testenv.Log
	cmd := &command.RouterCommand{Stderr: &stderr, Getenv: func(k string) string { return env[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- cmd.Run(ctx, []string{"--https-port", strconv.Itoa(httpsPort), "--state-dir", state})
	}()
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
