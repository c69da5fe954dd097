package integration

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/command"
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
