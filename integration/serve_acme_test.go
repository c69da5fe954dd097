package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/command"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
)

// TestTokenRouter prints the router token: the one a running controller
// made, and one made on a data file whose controller never made it.
func TestTokenRouter(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ls.db")
	c := MustServe(t, path, nil)
	made, _ := c.Store().RouterToken()
	var out bytes.Buffer
	if err := (&command.TokenCommand{Stdout: &out}).Run(context.Background(), []string{"--router", "--db", path}); err != nil {
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
	if err := (&command.TokenCommand{Stdout: &out}).Run(context.Background(), []string{"--router", "--db", fresh}); err != nil {
		t.Fatal(err)
	}
	d, _ = db.Open(fresh, db.Options{ReadOnly: true})
	stored, _ := d.RouterToken()
	d.Close()
	if got := strings.TrimSpace(out.String()); len(got) < 32 || got != stored {
		t.Fatalf("token --router made %q, stored %q", got, stored)
	}
	if err := (&command.TokenCommand{Stdout: io.Discard}).Run(context.Background(), []string{"--router", "--routes-key", "--db", fresh}); err == nil {
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
	same := &command.ServeCommand{Stderr: io.Discard, Getenv: func(k string) string {
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
	t.Parallel()
	c := MustServe(t, filepath.Join(t.TempDir(), "ls.db"), nil)
	certPEM, keyPEM, leaf := routerTestCert(t, "shop.example.com")
	body, _ := json.Marshal(map[string]string{"domain": "shop.example.com", "cert": certPEM, "key": keyPEM})
	mustCall(t, c, "POST", "/certs", string(body))
	if err := c.Store().PutCert(cluster.Cert{Domain: "off.example.com", Source: cluster.CertACME, Chain: certPEM, Key: keyPEM, NotAfter: leaf.NotAfter}); err != nil {
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
