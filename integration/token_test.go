package integration

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/command"
	"github.com/longshoreman/longshoreman/db"
)

// TestGeneratedTokenGoesToAFile starts a controller without a token: the
// generated one is written to <db>.token with mode 0600 and its path, not
// the token, is in the log. A short LONGSHOREMAN_TOKEN is refused.
func TestGeneratedTokenGoesToAFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ls.db")
	c, log := serveWith(t, map[string]string{"LONGSHOREMAN_DB": path, "LONGSHOREMAN_TOKEN": ""}, command.ServerTimeouts{})
	token, err := command.ReadToken(path, testSecretsKey)
	if err != nil || len(token) < command.MinTokenLength {
		t.Fatalf("token in the data file: %q %v", token, err)
	}
	st, err := os.Stat(path + ".token")
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v, want mode 0600", st, err)
	}
	if b, _ := os.ReadFile(path + ".token"); strings.TrimSpace(string(b)) != token {
		t.Fatalf("token file holds %q, the data file %q", b, token)
	}
	if strings.Contains(log.String(), token) || !strings.Contains(log.String(), path+".token") {
		t.Fatalf("log shows the token or lacks the file's path:\n%s", log)
	}
	callWithToken(t, c, token, "GET", "/apps", "")
	if who := callWithToken(t, c, token, "GET", "/whoami", ""); who["name"] != "root" || who["scope"] != "admin" {
		t.Fatalf("the generated token is %v; want the admin token root", who)
	}
	c.Close()

	// A stale file (the data file was restored from another controller's
	// backup) is rewritten at the next start.
	if err := os.WriteFile(path+".token", []byte("stale-token-0123456789\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	serveWith(t, map[string]string{"LONGSHOREMAN_DB": path, "LONGSHOREMAN_TOKEN": ""}, command.ServerTimeouts{})
	st, err = os.Stat(path + ".token")
	if b, _ := os.ReadFile(path + ".token"); err != nil || strings.TrimSpace(string(b)) != token || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file after a restart: %q %v %v", b, st, err)
	}

	for _, short := range []string{"t0ken", "123456789012345"} {
		s := &command.ServeCommand{Stderr: io.Discard, Getenv: func(k string) string {
			return map[string]string{"LONGSHOREMAN_TOKEN": short, "LONGSHOREMAN_DB": path}[k]
		}}
		if err := s.ParseFlags(nil); err == nil || !strings.Contains(err.Error(), "at least 16") {
			t.Errorf("LONGSHOREMAN_TOKEN=%s: %v, want a refusal naming the minimum", short, err)
		}
	}
}

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
