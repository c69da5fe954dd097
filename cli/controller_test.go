package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAppsHostsEnvs drives every verb that needs no Docker host against a
// real controller: apps, hosts, envs of an app never deployed, describe,
// status, and their error answers.
func TestAppsHostsEnvs(t *testing.T) {
	t.Parallel()
	c := startController(t)
	u := newCLI(t, c)

	u.none([]string{"apps"}, "No apps yet")
	if out := u.ok("apps:add", "b.example.com"); out != "Added app b.example.com.\n" {
		t.Errorf("apps:add: %q", out)
	}
	u.ok("--app", "a.example.com", "apps:add")
	golden(t, "apps/two", u.ok("apps"))
	u.fails([]string{"apps:add", "Not_A_Domain"}, "Not_A_Domain")

	u.ok("hosts:add", "127.0.0.9")
	golden(t, "hosts/one", u.ok("hosts"))
	u.fails([]string{"hosts:add", "not-an-ip"}, "not-an-ip")
	u.fails([]string{"hosts:rm", "127.0.0.8"}, "Host 127.0.0.8 is not in the cluster")

	// --app anywhere on the line, long or short.
	u.ok("--app", "a.example.com", "envs:set", "FOO=bar")
	u.ok("envs:set", "--app", "a.example.com", "B=2", "C=x=y")
	u.ok("envs:set", "C=three words", "-a", "a.example.com")
	u.ok("envs:set", "--app=a.example.com", "D=4")
	golden(t, "envs/set", u.ok("envs", "-a", "a.example.com"))
	if out := u.ok("-a", "a.example.com", "envs:rm", "D", "B"); out != "Removed D, B from a.example.com.\n" {
		t.Errorf("envs:rm: %q", out)
	}
	// What to do is said as a command of this client, not as an API call.
	r := u.fails([]string{"-a", "a.example.com", "envs:rm", "NOPE"}, "App a.example.com has no env NOPE: list its envs with longshoreman --app a.example.com envs.")
	if strings.Contains(r.Stderr, "GET /") {
		t.Errorf("envs:rm of an unset key tells a CLI user to make an HTTP call: %s", r.Stderr)
	}

	golden(t, "describe/undeployed", u.ok("describe"))
	golden(t, "describe/csv", u.ok("describe", "--csv"))
	golden(t, "describe/one", u.ok("describe", "--app", "b.example.com"))
	u.fails([]string{"describe", "--app", "zzz.example.com"}, "app zzz.example.com is unknown")
	golden(t, "status/undeployed", statusWithoutHostDetail(u.ok("status")))

	u.none([]string{"-a", "a.example.com", "history"}, "has not been deployed yet")
	u.none([]string{"-a", "a.example.com", "instances"}, "no routed instances")
	u.fails([]string{"-a", "a.example.com", "scale", "2"}, "has never been deployed")
	u.fails([]string{"-a", "a.example.com", "rollback"}, "a.example.com")

	// An unknown app is the server's 404 sentence, for every app verb that
	// asks the server about it.
	for _, verb := range []string{"instances", "envs", "envs:set", "history", "logs", "kill", "rollback", "scale"} {
		u.fails(append([]string{"--app", "nope.example.com", verb}, verbArgs[verb]...), "App nope.example.com does not exist")
	}
	u.fails([]string{"apps:rm", "nope.example.com"}, "App nope.example.com does not exist")

	u.ok("apps:rm", "b.example.com")
	u.ok("hosts:rm", "127.0.0.9")
	if out := u.ok("apps"); out != "a.example.com\n" {
		t.Errorf("apps after apps:rm: %q", out)
	}

	// A wrong token: the server's sentence and how to set the token.
	u.Env = []string{"LONGSHOREMAN_URL=" + c.URL, "LONGSHOREMAN_TOKEN=wrong"}
	u.fails([]string{"apps"}, "Invalid token", "longshoreman init", "LONGSHOREMAN_TOKEN")
	u.fails([]string{"--token", token, "--app", "nope.example.com", "envs"}, "App nope.example.com does not exist")
}

// statusWithoutHostDetail drops the reason a host is down (Docker's
// wording) and the Redis state (connecting, or the Redis client's wording);
// both are last on their line.
func statusWithoutHostDetail(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if j := strings.Index(l, "down: "); j >= 0 {
			lines[i] = l[:j+len("down: ")] + "..."
		}
		if strings.HasPrefix(l, "http://") {
			f := strings.Fields(l)
			lines[i] = strings.TrimSuffix(l, strings.Join(f[2:], " ")) + "REDIS-STATE"
		}
	}
	return strings.Join(lines, "\n")
}

func TestInitAndConfigPrecedence(t *testing.T) {
	t.Parallel()
	c := startController(t)
	u := newCLI(t, nil)
	path := filepath.Join(u.Home, ".longshoreman.json")

	// init asks on stdin and checks the answers.
	u.Stdin = c.URL + "\n" + token + "\n"
	r := u.run("init")
	if r.Code != 0 || !strings.Contains(r.Stdout, "Saved "+path) || !strings.Contains(r.Stdout, "answers: 0 apps") ||
		!strings.Contains(r.Stderr, "Controller URL [http://127.0.0.1:3000]: ") || !strings.Contains(r.Stderr, "API token") {
		t.Fatalf("init: %+v", r)
	}
	var saved map[string]string
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &saved); err != nil || saved["controller"] != c.URL || saved["token"] != token || len(saved) != 2 {
		t.Fatalf("%s = %s (%v)", path, b, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600: it holds the token", path, fi.Mode().Perm())
	}
	u.Stdin = ""
	u.ok("apps:add", "from-file.example.com")

	// Enter keeps the saved answers.
	u.Stdin = "\n\n"
	if r := u.run("init"); r.Code != 0 || !strings.Contains(r.Stderr, "Controller URL ["+c.URL+"]") {
		t.Errorf("init again: %+v", r)
	}
	// A wrong pair is saved but warned about.
	u.Stdin = "127.0.0.1:1\nx\n"
	if r := u.run("init"); r.Code != 0 || !strings.Contains(r.Stderr, "warning: cannot reach the controller at http://127.0.0.1:1") {
		t.Errorf("init with an unreachable URL: %+v", r)
	}
	u.Stdin = ""
	u.ok("init", "--controller", c.URL, "--token", token)

	// The environment overrides the file, and flags override both.
	u.Env = []string{"LONGSHOREMAN_URL=http://127.0.0.1:1"}
	u.fails([]string{"apps"}, "http://127.0.0.1:1 (from LONGSHOREMAN_URL)")
	if out := u.ok("--controller", c.URL, "apps"); out != "from-file.example.com\n" {
		t.Errorf("--controller over LONGSHOREMAN_URL: %q", out)
	}
	u.Env = []string{"LONGSHOREMAN_TOKEN=wrong"}
	u.fails([]string{"apps"}, "Invalid token")
	u.ok("apps", "--token", token)
}

// TestBackup takes backups with the real binaries: without keys by
// default, which a controller refuses to run on as it is and which
// `restore --new-keys` makes a data file a controller serves; with
// --with-keys, a data file a controller serves as it is.
func TestBackup(t *testing.T) {
	t.Parallel()
	c := startController(t)
	u := newCLI(t, c)
	u.ok("apps:add", "kept.example.com")
	dir := t.TempDir()
	file := filepath.Join(dir, "copy.db")
	if out := u.ok("backup", file); !strings.Contains(out, "Wrote "+file) || !strings.Contains(out, "without the private keys") || !strings.Contains(out, "longshoreman restore "+file) {
		t.Errorf("backup: %q", out)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("backup left %d files in its directory, want 1: %v", len(entries), entries)
	}
	// A controller does not run on a backup without keys; restored with
	// new keys, it is a data file a controller serves.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	serve := exec.CommandContext(ctx, bin, "serve")
	serve.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "LONGSHOREMAN_DB=" + file, "LONGSHOREMAN_LISTEN=127.0.0.1:0", "REDIS_PORT=1", "LONGSHOREMAN_TOKEN=" + token}
	if out, err := serve.CombinedOutput(); err == nil || ctx.Err() != nil || !strings.Contains(string(out), "backup taken without keys") || !strings.Contains(string(out), "longshoreman restore") {
		t.Errorf("serve on a backup without keys: %v (timed out: %v)\n%s", err, ctx.Err() != nil, out)
	}
	restored := filepath.Join(dir, "restored.db")
	u.fails([]string{"restore", file, restored}, "holds none to keep")
	if out := u.ok("restore", "--new-keys", file, restored); !strings.Contains(out, "Restored "+file+" onto "+restored) || !strings.Contains(out, "new routes key") ||
		!strings.Contains(out, "The env values stay encrypted with key id ") || !strings.Contains(out, restored+".key") {
		t.Errorf("restore --new-keys: %q", out)
	}
	// The env values stay encrypted with the key of the data file backed up.
	key, err := os.ReadFile(c.DB + ".key")
	if err != nil {
		t.Fatal(err)
	}
	secretsKey := "LONGSHOREMAN_SECRETS_KEY=" + strings.TrimSpace(string(key))
	r := startController(t, "LONGSHOREMAN_DB="+restored, secretsKey)
	if out := newCLI(t, r).ok("apps"); out != "kept.example.com\n" {
		t.Errorf("apps served from the restored backup: %q", out)
	}
	// With keys the copy is a data file a controller serves.
	withKeys := filepath.Join(dir, "keys.db")
	if out := u.ok("backup", "--with-keys", withKeys); !strings.Contains(out, "with the private keys") {
		t.Errorf("backup --with-keys: %q", out)
	}
	r = startController(t, "LONGSHOREMAN_DB="+withKeys, secretsKey)
	if out := newCLI(t, r).ok("apps"); out != "kept.example.com\n" {
		t.Errorf("apps served from the backup with keys: %q", out)
	}
	u.fails([]string{"backup", filepath.Join(dir, "no", "such", "dir.db")}, "cannot write "+filepath.Join(dir, "no", "such", "dir.db"))
}

// TestSecretsRotate: secrets:rotate answers with the key every env value
// is encrypted with; on a controller with one key there is nothing to do.
func TestSecretsRotate(t *testing.T) {
	t.Parallel()
	u := newUser(t)
	u.ok("apps:add", "rot.example.com")
	u.ok("--app", "rot.example.com", "envs:set", "K=v")
	out := u.ok("secrets:rotate")
	if !strings.Contains(out, "Every env value is now encrypted with key ") || !strings.Contains(out, "(0 records encrypted anew)") || !strings.Contains(out, "LONGSHOREMAN_SECRETS_KEY") {
		t.Errorf("secrets:rotate: %q", out)
	}
}
