package main

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
	"math/big"
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
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/pubsub"
	"github.com/longshoreman/longshoreman/router"
)

func TestLoadRouterHTTPSConfig(t *testing.T) {
	base := map[string]string{"LONGSHOREMAN_ROUTES_KEY": "routes-key-0123456789"}
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string // "" : loads
		addr    string // RunConfig.HTTPSAddr after apply
	}{
		{name: "off by default"},
		{name: "port, controller and token", env: map[string]string{"HTTPS_PORT": "443", "LONGSHOREMAN_URL": "https://10.0.0.1:3000", "LONGSHOREMAN_ROUTER_TOKEN": "t"}, addr: ":443"},
		{name: "flags", env: map[string]string{"LONGSHOREMAN_ROUTER_TOKEN": "t"}, args: []string{"--https-port", "8443", "--controller", "127.0.0.1:3000", "--listen", "127.0.0.1:8080"}, addr: "127.0.0.1:8443"},
		{name: "plain HTTP to another machine", env: map[string]string{"HTTPS_PORT": "443", "LONGSHOREMAN_URL": "http://10.0.0.1:3000", "LONGSHOREMAN_ROUTER_TOKEN": "t"}, wantErr: "--insecure-controller (LONGSHOREMAN_INSECURE_CONTROLLER)"},
		{name: "host:port is plain HTTP", env: map[string]string{"HTTPS_PORT": "443", "LONGSHOREMAN_URL": "ctl.example.com:3000", "LONGSHOREMAN_ROUTER_TOKEN": "t"}, wantErr: "is http://ctl.example.com:3000, plain HTTP to another machine"},
		{name: "plain HTTP accepted by the variable", env: map[string]string{"HTTPS_PORT": "443", "LONGSHOREMAN_URL": "http://10.0.0.1:3000", "LONGSHOREMAN_ROUTER_TOKEN": "t", "LONGSHOREMAN_INSECURE_CONTROLLER": "1"}, addr: ":443"},
		{name: "plain HTTP accepted by the flag", env: map[string]string{"LONGSHOREMAN_ROUTER_TOKEN": "t"}, args: []string{"--https-port", "443", "--controller", "http://10.0.0.1:3000", "--insecure-controller"}, addr: ":443"},
		{name: "plain HTTP to localhost", env: map[string]string{"HTTPS_PORT": "443", "LONGSHOREMAN_URL": "http://localhost:3000", "LONGSHOREMAN_ROUTER_TOKEN": "t"}, addr: ":443"},
		{name: "plain HTTP to IPv6 loopback", env: map[string]string{"HTTPS_PORT": "443", "LONGSHOREMAN_URL": "http://[::1]:3000", "LONGSHOREMAN_ROUTER_TOKEN": "t"}, addr: ":443"},
		{name: "HTTPS off: the URL fetches nothing", env: map[string]string{"LONGSHOREMAN_URL": "http://10.0.0.1:3000", "LONGSHOREMAN_ROUTER_TOKEN": "t"}},
		{name: "controller without token", env: map[string]string{"HTTPS_PORT": "443", "LONGSHOREMAN_URL": "http://10.0.0.1:8080"}, wantErr: "LONGSHOREMAN_ROUTER_TOKEN is not set"},
		{name: "https without controller", env: map[string]string{"HTTPS_PORT": "443"}, wantErr: "--controller (LONGSHOREMAN_URL) is not set"},
		{name: "bad port", env: map[string]string{"HTTPS_PORT": "70000", "LONGSHOREMAN_URL": "https://c:1", "LONGSHOREMAN_ROUTER_TOKEN": "t"}, wantErr: "--https-port (HTTPS_PORT) is 70000"},
		{name: "same port as HTTP", env: map[string]string{"PORT": "8080", "HTTPS_PORT": "8080", "LONGSHOREMAN_URL": "https://c:1", "LONGSHOREMAN_ROUTER_TOKEN": "t"}, wantErr: "the HTTP port too"},
		{name: "bad scheme", env: map[string]string{"HTTPS_PORT": "443", "LONGSHOREMAN_URL": "ftp://c:1", "LONGSHOREMAN_ROUTER_TOKEN": "t"}, wantErr: "the scheme must be http or https"},
		{name: "missing CA file", env: map[string]string{"HTTPS_PORT": "443", "LONGSHOREMAN_URL": "https://c:1", "LONGSHOREMAN_ROUTER_TOKEN": "t", "LONGSHOREMAN_CACERT": "/nonexistent/ca.pem"}, wantErr: "LONGSHOREMAN_CACERT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			c, err := LoadRouterConfig(tc.args, func(k string) string { return env[k] }, io.Discard)
			var run router.RunConfig
			if err == nil {
				err = c.HTTPS.apply(&run, c.Listen)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if run.HTTPSAddr != tc.addr {
				t.Fatalf("HTTPSAddr %q, want %q", run.HTTPSAddr, tc.addr)
			}
			if tc.addr != "" && (run.Controller == "" || run.RouterToken != "t" || run.ControllerTLS == nil) {
				t.Fatalf("controller not passed on: %+v", run)
			}
		})
	}
}

// routerTestCert returns a PEM certificate and key for domain, its own root.
func routerTestCert(t *testing.T, domain string) (certPEM, keyPEM string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: domain}, DNSNames: []string{domain},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	cert, _ = x509.ParseCertificate(der)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})), cert
}

// TestRouterCommandHTTPS runs `longshoreman router --https-port` in-process:
// certificates from an https controller endpoint (trusted through
// LONGSHOREMAN_CACERT) with the router token, HTTP/2 to the app, the
// redirect from plain HTTP, and the cache in the state directory.
func TestRouterCommandHTTPS(t *testing.T) {
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
	pub := pubsub.NewPublisher(pubsub.PublisherConfig{Client: rc, Channel: channel, Republish: 200 * time.Millisecond,
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
	cmd := &RouterCommand{Stderr: &stderr, Getenv: func(k string) string { return env[k] }}
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
