package integration

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/command"

	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// openServe runs command.ServeCommand's ParseFlags and Open with env and args,
// closing it when the test ends, and returns what it logged.
func openServe(t *testing.T, env map[string]string, args ...string) (*command.ServeCommand, string, error) {
	t.Helper()
	base := map[string]string{"LONGSHOREMAN_TOKEN": "t0ken-0123456789", "LONGSHOREMAN_LISTEN": "127.0.0.1:0", "REDIS_PORT": "1"}
	for k, v := range env {
		base[k] = v
	}
	var log testenv.Log
	c := &command.ServeCommand{Stderr: &log, Getenv: func(k string) string { return base[k] }}
	if err := c.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	err := c.Open(context.Background())
	t.Cleanup(func() { c.Close() })
	return c, log.String(), err
}

// TestServeNeedsInitForAMissingFile: a LONGSHOREMAN_DB that does not exist
// (a typo, an unmounted volume) stops the start and says what to check;
// --init or LONGSHOREMAN_INIT=1 creates it, and on an existing file they
// change nothing.
func TestServeNeedsInitForAMissingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "mnt", "ls.db")
	os.MkdirAll(filepath.Dir(path), 0o700)
	_, _, err := openServe(t, map[string]string{"LONGSHOREMAN_DB": path})
	if err == nil || !strings.Contains(command.ErrorText(err), path) || !strings.Contains(command.ErrorText(err), "--init") || !strings.Contains(command.ErrorText(err), "mounted") {
		t.Fatalf("serve on a missing file: %v", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("serve without --init created the file")
	}

	c, log, err := openServe(t, map[string]string{"LONGSHOREMAN_DB": path}, "--init")
	if err != nil {
		t.Fatal(err)
	}
	clusterID := c.Store().ClusterID()
	if !strings.Contains(log, "created a new data file") || !strings.Contains(log, clusterID) {
		t.Fatalf("log does not say a data file was created: %s", log)
	}
	mustCall(t, c, "POST", "/apps", `{"app":"kept.example.com"}`)
	c.Close()

	for _, env := range []map[string]string{{"LONGSHOREMAN_DB": path, "LONGSHOREMAN_INIT": "1"}, {"LONGSHOREMAN_DB": path, "LONGSHOREMAN_INIT": "true"}, {"LONGSHOREMAN_DB": path}} {
		c, log, err = openServe(t, env)
		if err != nil {
			t.Fatal(err)
		}
		apps := mustCall(t, c, "GET", "/apps", "")["apps"].([]any)
		if c.Store().ClusterID() != clusterID || len(apps) != 1 || strings.Contains(log, "created a new data file") {
			t.Fatalf("%v on an existing file: cluster %s (was %s), apps %v, log %s", env, c.Store().ClusterID(), clusterID, apps, log)
		}
		c.Close()
	}
}

func TestInitValueRefused(t *testing.T) {
	t.Parallel()
	c := &command.ServeCommand{Stderr: io.Discard, Getenv: func(k string) string { return map[string]string{"LONGSHOREMAN_INIT": "yes"}[k] }}
	if err := c.ParseFlags(nil); err == nil || !strings.Contains(err.Error(), "LONGSHOREMAN_INIT") {
		t.Fatalf("LONGSHOREMAN_INIT=yes: %v, want an error naming it", err)
	}
}

// TestServeCreatesTheDefaultFile: with neither --db nor LONGSHOREMAN_DB, a
// first `go run . serve` creates longshoreman.db in the working directory,
// saying so; the same path given explicitly is not created.
func TestServeCreatesTheDefaultFile(t *testing.T) {
	// Not parallel: it changes the working directory.
	dir := t.TempDir()
	cmd := exec.Command(Binary(t), "serve", "--listen", "127.0.0.1:0", "--db", "longshoreman.db")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "REDIS_PORT=1"}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "does not exist") {
		t.Fatalf("serve --db longshoreman.db in an empty directory: %v\n%s", err, out)
	}

	t.Chdir(dir)
	c, log, err := openServe(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log, "created a new data file") || !strings.Contains(log, "db=longshoreman.db") {
		t.Fatalf("log: %s", log)
	}
	c.Close()
	if _, err := os.Stat(filepath.Join(dir, "longshoreman.db")); err != nil {
		t.Fatal(err)
	}
}

// TestServeRefusesDamagedFiles: an empty file and a truncated file stop the
// start with a message saying to restore a backup, even with --init.
func TestServeRefusesDamagedFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	c := MustServe(t, good, nil)
	for i := range 200 {
		mustCall(t, c, "POST", "/apps", `{"app":"app`+strings.Repeat("x", i%7)+string(rune('a'+i%26))+`.example.com"}`)
	}
	used := c.Store().Size()
	c.Close()
	full, _ := os.ReadFile(good)
	for name, content := range map[string][]byte{"empty.db": {}, "truncated.db": full[:used/2]} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, content, 0o600)
		for _, args := range [][]string{nil, {"--init"}} {
			_, _, err := openServe(t, map[string]string{"LONGSHOREMAN_DB": path}, args...)
			if err == nil || !strings.Contains(command.ErrorText(err), "restore") || !strings.Contains(command.ErrorText(err), path) {
				t.Errorf("%s %v: %v, want a refusal saying to restore a backup", name, args, err)
			}
		}
		if b, _ := os.ReadFile(path); !bytes.Equal(b, content) {
			t.Errorf("%s was changed by the refused start", name)
		}
	}
}

// TestTokenPrintsRoutesKey: the generated routes key is printed by
// `longshoreman token --routes-key`, also while the controller runs.
func TestTokenPrintsRoutesKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ls.db")
	c := MustServe(t, path, nil)
	want, err := c.Store().RoutesKey()
	if err != nil || len(want) != 64 {
		t.Fatalf("stored routes key %q, %v", want, err)
	}
	var out bytes.Buffer
	if err := (&command.TokenCommand{Stdout: &out}).Run(context.Background(), []string{"--routes-key", "--db", path}); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out.String()) != want {
		t.Fatalf("token --routes-key printed %q, want %q", out.String(), want)
	}
	d, err := db.Open(filepath.Join(t.TempDir(), "none.db"), db.Options{ReadOnly: true})
	if err == nil {
		d.Close()
		t.Fatal("read-only open of a missing file succeeded")
	}
}

// TestRouterNeedsRoutesKey: a router without LONGSHOREMAN_ROUTES_KEY
// refuses to start and says where to get it.
func TestRouterNeedsRoutesKey(t *testing.T) {
	t.Parallel()
	for env, want := range map[string]string{"": "longshoreman token --routes-key", "short": "at least 16"} {
		r := &command.RouterCommand{Stderr: io.Discard, Getenv: func(k string) string {
			return map[string]string{"LONGSHOREMAN_ROUTES_KEY": env, "LONGSHOREMAN_LISTEN": "127.0.0.1:0"}[k]
		}}
		err := r.Run(context.Background(), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("router with LONGSHOREMAN_ROUTES_KEY=%q: %v, want %q", env, err, want)
		}
	}
}
