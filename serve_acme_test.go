package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
)

// TestLoadACMEConfig reads the ACME settings and refuses bad ones, each
// message naming its setting.
func TestLoadACMEConfig(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	caPEM, _, _ := listenerCert(t)
	os.WriteFile(caFile, caPEM, 0o600)
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	for _, c := range []struct {
		name string
		env  map[string]string
		want ACMEConfig
		err  string
	}{
		{name: "off by default"},
		{name: "on", env: map[string]string{"LONGSHOREMAN_ACME_EMAIL": "ops@example.com", "LONGSHOREMAN_ACME_DIRECTORY": "https://ca.example/dir",
			"LONGSHOREMAN_ACME_CA": caFile, "LONGSHOREMAN_ACME_RENEW_BEFORE": "720h", "LONGSHOREMAN_ROUTER_TOKEN": "router-token-0123456789"},
			want: ACMEConfig{Email: "ops@example.com", Directory: "https://ca.example/dir", CA: caFile, RenewBefore: 720 * time.Hour, RouterToken: "router-token-0123456789"}},
		{name: "short router token", env: map[string]string{"LONGSHOREMAN_ROUTER_TOKEN": "abc"}, err: "LONGSHOREMAN_ROUTER_TOKEN is 3 characters long"},
		{name: "bad e-mail", env: map[string]string{"LONGSHOREMAN_ACME_EMAIL": "ops"}, err: "LONGSHOREMAN_ACME_EMAIL"},
		{name: "bad directory", env: map[string]string{"LONGSHOREMAN_ACME_DIRECTORY": "ca.example/dir"}, err: "LONGSHOREMAN_ACME_DIRECTORY"},
		{name: "missing CA file", env: map[string]string{"LONGSHOREMAN_ACME_CA": "/nonexistent/ca.pem"}, err: "LONGSHOREMAN_ACME_CA"},
		{name: "CA file not PEM", env: map[string]string{"LONGSHOREMAN_ACME_CA": notPEM}, err: "holds no PEM certificate"},
		{name: "negative renew-before", env: map[string]string{"LONGSHOREMAN_ACME_RENEW_BEFORE": "-1h"}, err: "LONGSHOREMAN_ACME_RENEW_BEFORE"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := LoadServeConfig(nil, func(k string) string { return c.env[k] }, io.Discard)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one naming %s", err, c.err)
				}
				return
			}
			if err != nil || cfg.ACME != c.want {
				t.Fatalf("ACME config %+v, %v; want %+v", cfg.ACME, err, c.want)
			}
		})
	}
}

// TestTokenRouter prints the router token: the one a running controller
// made, and one made on a data file whose controller never made it.
func TestTokenRouter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ls.db")
	c := MustServe(t, path, nil)
	made, _ := c.db.RouterToken()
	var out bytes.Buffer
	if err := (&TokenCommand{Stdout: &out}).Run(context.Background(), []string{"--router", "--db", path}); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got == "" || got != made {
		t.Fatalf("token --router printed %q while the controller runs, want %q", got, made)
	}
	if status, _ := call(t, c, "GET", "/router/certs", ""); status != 403 {
		t.Fatalf("GET /router/certs with the API token = %d, want 403", status)
	}

	// A data file with no router token yet (as one of an older release).
	fresh := filepath.Join(t.TempDir(), "fresh.db")
	d, err := db.Open(fresh, db.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	out.Reset()
	if err := (&TokenCommand{Stdout: &out}).Run(context.Background(), []string{"--router", "--db", fresh}); err != nil {
		t.Fatal(err)
	}
	d, _ = db.Open(fresh, db.Options{ReadOnly: true})
	stored, _ := d.RouterToken()
	d.Close()
	if got := strings.TrimSpace(out.String()); len(got) < 32 || got != stored {
		t.Fatalf("token --router made %q, stored %q", got, stored)
	}
	if err := (&TokenCommand{Stdout: io.Discard}).Run(context.Background(), []string{"--router", "--routes-key", "--db", fresh}); err == nil {
		t.Fatal("--router with --routes-key was accepted")
	}

	// A router token given to the controller replaces the stored one; the
	// API token is refused as one.
	given := MustServe(t, filepath.Join(t.TempDir(), "given.db"), map[string]string{"LONGSHOREMAN_ROUTER_TOKEN": "router-token-0123456789"})
	req, _ := http.NewRequest("GET", given.URL()+"/router/certs", nil)
	req.Header.Set("Authorization", "Bearer router-token-0123456789")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /router/certs with the router token given: %v %v", resp, err)
	}
	same := &ServeCommand{Stderr: io.Discard, Getenv: func(k string) string {
		return map[string]string{"LONGSHOREMAN_DB": filepath.Join(t.TempDir(), "same.db"), "LONGSHOREMAN_INIT": "1", "LONGSHOREMAN_LISTEN": "127.0.0.1:0",
			"LONGSHOREMAN_TOKEN": "t0ken-0123456789", "LONGSHOREMAN_ROUTER_TOKEN": "t0ken-0123456789", "REDIS_PORT": "1"}[k]
	}}
	err = same.ParseFlags(nil)
	if err == nil {
		err = same.Open(context.Background())
	}
	same.Close()
	if err == nil || !strings.Contains(err.Error(), "LONGSHOREMAN_ROUTER_TOKEN is the API token") {
		t.Fatalf("the API token as the router token: %v", err)
	}
}

// TestCertExpiryMetric: a certificate brought by the user is counted by
// longshoreman_cert_expiry_seconds; one of an app with HTTPS off is not.
func TestCertExpiryMetric(t *testing.T) {
	c := MustServe(t, filepath.Join(t.TempDir(), "ls.db"), nil)
	certPEM, keyPEM, leaf := routerTestCert(t, "shop.example.com")
	body, _ := json.Marshal(map[string]string{"domain": "shop.example.com", "cert": certPEM, "key": keyPEM})
	mustCall(t, c, "POST", "/certs", string(body))
	if err := c.db.PutCert(cluster.Cert{Domain: "off.example.com", Source: cluster.CertACME, Chain: certPEM, Key: keyPEM, NotAfter: leaf.NotAfter}); err != nil {
		t.Fatal(err)
	}
	_, b := call(t, c, "GET", "/metrics", "")
	var seconds float64
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, `longshoreman_cert_expiry_seconds{domain="shop.example.com"} `); ok {
			seconds, _ = strconv.ParseFloat(v, 64)
		}
	}
	if want := time.Until(leaf.NotAfter).Seconds(); seconds < want-120 || seconds > want+1 {
		t.Fatalf("cert expiry metric %v, want about %v:\n%s", seconds, want, b)
	}
	if strings.Contains(string(b), "off.example.com") {
		t.Fatal("a certificate of a domain not served over HTTPS is counted")
	}
}
