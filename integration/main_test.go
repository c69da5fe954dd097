package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/command"
)

// testSecretsKey is the key of the env values of the stores the tests open
// through MustServe, testGetenv and etcdServeEnv (a data file opened
// otherwise has its own key file).
const testSecretsKey = "aW50ZWdyYXRpb24tdGVzdC1rZXktMDEyMzQ1Njc4OWE="

// testGetenv is the environment of the commands the tests run in-process:
// only the secrets key.
func testGetenv(k string) string {
	if k == cluster.SecretsKeyVar {
		return testSecretsKey
	}
	return ""
}

// MustServe runs the real controller in-process on a free port with the
// data file at path. Redis points at a closed loopback port unless env says
// otherwise: these tests are about the API and the data file.
func MustServe(tb testing.TB, path string, env map[string]string) *command.ServeCommand {
	tb.Helper()
	base := map[string]string{"LONGSHOREMAN_DB": path, "LONGSHOREMAN_TOKEN": "t0ken-0123456789", "LONGSHOREMAN_LISTEN": "127.0.0.1:0", "REDIS_PORT": "1", "LONGSHOREMAN_INIT": "1",
		cluster.SecretsKeyVar: testSecretsKey}
	for k, v := range env {
		base[k] = v
	}
	return mustOpenServe(tb, base, io.Discard, nil)
}

// mustOpenServe runs the controller in-process with the environment env and
// its log written to stderr, and closes it when the test ends. set, when
// not nil, changes the configuration ParseFlags made before the controller
// opens (the environment has no words for the HTTP server's timeouts).
func mustOpenServe(tb testing.TB, env map[string]string, stderr io.Writer, set func(*command.ServeConfig)) *command.ServeCommand {
	tb.Helper()
	c := &command.ServeCommand{Stderr: stderr, Getenv: func(k string) string { return env[k] }}
	if err := c.ParseFlags(nil); err != nil {
		tb.Fatal(err)
	}
	if set != nil {
		set(&c.Config)
	}
	if err := c.Open(context.Background()); err != nil {
		if log, ok := stderr.(fmt.Stringer); ok {
			tb.Fatalf("serve %s: %v\n%s", env["LONGSHOREMAN_DB"], err, log)
		}
		tb.Fatalf("serve %s: %v", env["LONGSHOREMAN_DB"], err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func call(tb testing.TB, c *command.ServeCommand, method, path, body string) (int, []byte) {
	tb.Helper()
	req, _ := http.NewRequest(method, c.URL()+path, strings.NewReader(body))
	req.Header.Set("X-Auth", "t0ken-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func mustCall(tb testing.TB, c *command.ServeCommand, method, path, body string) map[string]any {
	tb.Helper()
	status, b := call(tb, c, method, path, body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); status != 200 || err != nil || out["error"] != false {
		tb.Fatalf("%s %s = %d %s", method, path, status, b)
	}
	return out
}

// addHosts adds the hosts to c's cluster, failing the test on a refusal.
func addHosts(tb testing.TB, c *command.ServeCommand, hosts ...string) {
	tb.Helper()
	for _, h := range hosts {
		mustCall(tb, c, "POST", "/hosts", `{"host":"`+h+`"}`)
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ls.db")
	c := MustServe(t, path, map[string]string{"LONGSHOREMAN_TOKEN": ""})
	token, err := command.ReadToken(path, testSecretsKey)
	if err != nil || len(token) < 32 {
		t.Fatalf("token from a running controller's file: %q, %v", token, err)
	}
	c.Config.Token = token
	for _, body := range []string{`{"app":"a.example.com"}`, `{"app":"b.example.com"}`} {
		callWithToken(t, c, token, "POST", "/apps", body)
	}
	callWithToken(t, c, token, "POST", "/a.example.com/envs", `{"env":"K=v=1"}`)
	callWithToken(t, c, token, "POST", "/hosts", `{"host":"127.0.0.41"}`)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	c = MustServe(t, path, map[string]string{"LONGSHOREMAN_TOKEN": ""})
	apps := callWithToken(t, c, token, "GET", "/apps", "")
	envs := callWithToken(t, c, token, "GET", "/a.example.com/envs", "")
	hosts := callWithToken(t, c, token, "GET", "/hosts", "")
	if fmt.Sprint(apps["apps"], envs["envs"], hosts["hosts"]) != "[a.example.com b.example.com] [K=v=1] [127.0.0.41]" {
		t.Fatalf("after restart: %v %v %v", apps, envs, hosts)
	}
}

func callWithToken(tb testing.TB, c *command.ServeCommand, token, method, path, body string) map[string]any {
	tb.Helper()
	req, _ := http.NewRequest(method, c.URL()+path, strings.NewReader(body))
	req.Header.Set("X-Auth", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		tb.Fatalf("%s %s = %d %v %v", method, path, resp.StatusCode, out, err)
	}
	return out
}

// TestBackupWhileServingWrites takes backups over HTTP while clients add
// apps, then opens the last one with a new controller.
func TestBackupWhileServingWrites(t *testing.T) {
	t.Parallel()
	c := MustServe(t, filepath.Join(t.TempDir(), "ls.db"), nil)
	var wg sync.WaitGroup
	var written atomic.Int64
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				status, _ := call(t, c, "POST", "/apps", fmt.Sprintf(`{"app":"w%d-%d.example.com"}`, w, i))
				if status != 200 {
					t.Errorf("POST /apps = %d", status)
					return
				}
				written.Add(1)
			}
		}()
	}
	var backup []byte
	for range 5 {
		time.Sleep(50 * time.Millisecond)
		status, b := call(t, c, "GET", "/backup?keys=true", "")
		if status != 200 {
			t.Fatalf("GET /backup = %d", status)
		}
		backup = b
	}
	close(stop)
	wg.Wait()

	path := filepath.Join(t.TempDir(), "restored.db")
	if err := os.WriteFile(path, backup, 0o600); err != nil {
		t.Fatal(err)
	}
	r := MustServe(t, path, nil)
	apps := mustCall(t, r, "GET", "/apps", "")["apps"].([]any)
	if len(apps) == 0 || int64(len(apps)) > written.Load() {
		t.Fatalf("restored backup has %d apps; %d were written in all", len(apps), written.Load())
	}
	// Every app in the copy is readable.
	for _, a := range apps {
		mustCall(t, r, "GET", "/"+a.(string)+"/envs", "")
	}
}

func TestBadEnvironmentRefused(t *testing.T) {
	t.Parallel()
	for env, want := range map[string]string{"PORT": "not a whole number", "LONGSHOREMAN_DRAIN": "not a duration"} {
		c := &command.ServeCommand{Stderr: io.Discard, Getenv: func(k string) string {
			if k == env {
				return "abc"
			}
			return ""
		}}
		if err := c.ParseFlags(nil); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), env) {
			t.Errorf("%s=abc: %v, want an error naming it", env, err)
		}
	}
}

func TestSecondControllerOnSameFileFailsFast(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ls.db")
	MustServe(t, path, nil)
	c := &command.ServeCommand{Stderr: io.Discard, Getenv: func(k string) string {
		return map[string]string{"LONGSHOREMAN_DB": path, "LONGSHOREMAN_LISTEN": "127.0.0.1:0"}[k]
	}}
	c.ParseFlags(nil)
	start := time.Now()
	err := c.Open(context.Background())
	c.Close()
	if err == nil || !strings.Contains(command.ErrorText(err), "in use") || time.Since(start) > 5*time.Second {
		t.Fatalf("second controller: %v after %s", err, time.Since(start))
	}
}
