package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/command"

	"github.com/longshoreman/longshoreman/cli"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// runClient runs the command-line client in-process with env as its whole
// environment and returns what it printed and its error.
func runClient(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	env["HOME"] = t.TempDir()
	var out, errOut bytes.Buffer
	err := cli.Main(context.Background(), args, strings.NewReader(""), &out, &errOut, func(k string) string { return env[k] })
	return out.String() + errOut.String(), err
}

// TestAPIOverTLS serves the API with a certificate from a throwaway CA and
// calls it with the CLI: with the CA given it works; without it, or with
// another CA, the CLI refuses the certificate and says to set
// LONGSHOREMAN_CACERT; plain HTTP is refused by the server.
func TestAPIOverTLS(t *testing.T) {
	t.Parallel()
	certs := testenv.NewTLSCerts(t, "127.0.0.1")
	c, _ := serveWith(t, map[string]string{
		"LONGSHOREMAN_INIT":     "1",
		"LONGSHOREMAN_TLS_CERT": filepath.Join(certs.Dir, "server-cert.pem"),
		"LONGSHOREMAN_TLS_KEY":  filepath.Join(certs.Dir, "server-key.pem"),
	}, command.ServerTimeouts{})
	if !strings.HasPrefix(c.URL(), "https://") {
		t.Fatalf("URL = %s, want https", c.URL())
	}
	ca := filepath.Join(certs.Dir, "ca.pem")
	env := func(kv ...string) map[string]string {
		m := map[string]string{"LONGSHOREMAN_URL": c.URL(), "LONGSHOREMAN_TOKEN": "t0ken-0123456789"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	if out, err := runClient(t, env("LONGSHOREMAN_CACERT", ca), "apps:add", "tls.example.com"); err != nil {
		t.Fatalf("apps:add with LONGSHOREMAN_CACERT: %v %s", err, out)
	}
	if out, err := runClient(t, env(), "--cacert", ca, "apps"); err != nil || !strings.Contains(out, "tls.example.com") {
		t.Fatalf("apps with --cacert: %v %s", err, out)
	}
	other := filepath.Join(testenv.NewTLSCerts(t, "127.0.0.1").Dir, "ca.pem")
	for name, e := range map[string]map[string]string{
		"no CA":      env(),
		"another CA": env("LONGSHOREMAN_CACERT", other),
	} {
		_, err := runClient(t, e, "apps")
		if err == nil || !strings.Contains(err.Error(), "does not verify") || !strings.Contains(err.Error(), "LONGSHOREMAN_CACERT") {
			t.Errorf("%s: %v, want a refused certificate naming LONGSHOREMAN_CACERT", name, err)
		}
	}
	if _, err := runClient(t, env("LONGSHOREMAN_CACERT", filepath.Join(certs.Dir, "missing.pem")), "apps"); err == nil || !strings.Contains(err.Error(), "LONGSHOREMAN_CACERT") {
		t.Errorf("a missing CA file: %v", err)
	}

	plain := "http://" + strings.TrimPrefix(c.URL(), "https://")
	resp, err := http.Get(plain + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || strings.Contains(string(b), "ok") {
		t.Fatalf("plain HTTP to the TLS API = %d %s, want 400", resp.StatusCode, b)
	}
	if _, err := runClient(t, env("LONGSHOREMAN_URL", plain), "apps"); err == nil || !strings.Contains(err.Error(), "https://") {
		t.Errorf("CLI with an http URL to the TLS API: %v, want a message saying to use https://", err)
	}

	// A TLS client that trusts the CA gets the API.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.RootCAs()}}}
	req, _ := http.NewRequest("GET", c.URL()+"/apps", nil)
	req.Header.Set("X-Auth", "t0ken-0123456789")
	resp, err = client.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /apps over TLS: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestTLSFlagsGoTogether refuses a certificate without a key, and the
// reverse, and files that are not a key pair.
func TestTLSFlagsGoTogether(t *testing.T) {
	t.Parallel()
	certs := testenv.NewTLSCerts(t, "127.0.0.1")
	for _, env := range []map[string]string{
		{"LONGSHOREMAN_TLS_CERT": filepath.Join(certs.Dir, "server-cert.pem")},
		{"LONGSHOREMAN_TLS_KEY": filepath.Join(certs.Dir, "server-key.pem")},
	} {
		c := &command.ServeCommand{Stderr: io.Discard, Getenv: func(k string) string { return env[k] }}
		if err := c.ParseFlags(nil); err == nil || !strings.Contains(err.Error(), "go together") {
			t.Errorf("%v: %v, want both required", env, err)
		}
	}
	env := map[string]string{"LONGSHOREMAN_DB": filepath.Join(t.TempDir(), "ls.db"), "LONGSHOREMAN_LISTEN": "127.0.0.1:0",
		"LONGSHOREMAN_TLS_CERT": filepath.Join(certs.Dir, "server-cert.pem"), "LONGSHOREMAN_TLS_KEY": filepath.Join(certs.Dir, "key.pem")}
	c := &command.ServeCommand{Stderr: io.Discard, Getenv: func(k string) string { return env[k] }}
	if err := c.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	err := c.Open(context.Background())
	c.Close()
	if err == nil || !strings.Contains(err.Error(), "cannot load the API's certificate") {
		t.Fatalf("mismatched key: %v", err)
	}
}
