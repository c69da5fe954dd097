//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/command"

	"github.com/longshoreman/longshoreman/cli"
	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// etcdServeEnv is the environment of a controller on an etcd prefix: a
// port of its own, advertised to the other controllers.
func etcdServeEnv(t testing.TB, url string) map[string]string {
	port := testenv.FreePort(t)
	return map[string]string{"LONGSHOREMAN_DB": url, "LONGSHOREMAN_LISTEN": fmt.Sprintf("127.0.0.1:%d", port),
		"LONGSHOREMAN_ADVERTISE": fmt.Sprintf("http://127.0.0.1:%d", port), cluster.SecretsKeyVar: testSecretsKey}
}

// serveOnEtcd runs a controller in-process on url, its log in the returned
// buffer.
func serveOnEtcd(t *testing.T, url string, env map[string]string) (*command.ServeCommand, *testenv.Log) {
	t.Helper()
	base := map[string]string{"LONGSHOREMAN_TOKEN": "t0ken-0123456789", "REDIS_PORT": "1", "LONGSHOREMAN_INIT": "1",
		"LONGSHOREMAN_LEASE": testLease.String(), "LONGSHOREMAN_RECONCILE": "500ms", "LONGSHOREMAN_DRAIN": "300ms",
		"DOCKER_PORT": fmt.Sprint(testenv.DockerPort(t))}
	for k, v := range etcdServeEnv(t, url) {
		base[k] = v
	}
	for k, v := range env {
		base[k] = v
	}
	log := &testenv.Log{}
	return mustOpenServe(t, base, log, nil), log
}

// serveEtcdControllers starts n controllers on the etcd store at url, env
// added to each one's environment, and waits until one leads. It returns
// them, their logs and URLs in the same order, and the leader's index.
func serveEtcdControllers(t *testing.T, url string, n int, env map[string]string) (ctrls []*command.ServeCommand, logs []*testenv.Log, urls []string, leader int) {
	t.Helper()
	for range n {
		c, log := serveOnEtcd(t, url, env)
		ctrls, logs, urls = append(ctrls, c), append(logs, log), append(urls, c.URL())
	}
	return ctrls, logs, urls, waitLeader(t, urls, 30*time.Second)
}

// health returns /healthz's answer with the token.
func health(url string) map[string]any {
	req, _ := http.NewRequest("GET", url+"/healthz", nil)
	req.Header.Set("X-Auth", "t0ken-0123456789")
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return out
}

// waitLeader waits until exactly one of urls says it leads and every
// other names it, and returns its index.
func waitLeader(t testing.TB, urls []string, timeout time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		leader, agree := -1, true
		for i, u := range urls {
			h := health(u)
			switch {
			case h == nil:
				continue // a stopped controller
			case h["role"] == "leader" && leader == -1:
				leader = i
			case h["role"] == "leader":
				agree = false // two say they lead
			}
		}
		if leader >= 0 && agree {
			for _, u := range urls {
				if h := health(u); h != nil && h["leader_url"] != urls[leader] {
					agree = false
				}
			}
			if agree {
				return leader
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no single leader among %v within %s", urls, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFollowerServesEveryVerb runs three controllers on one etcd prefix:
// one leads, the others name it in /healthz, and every CLI verb works when
// the CLI points at a follower, deploy's live progress included. When the
// leader stops, another leads and takes writes.
func TestFollowerServesEveryVerb(t *testing.T) {
	t.Parallel()
	url := etcdTestURL(t)
	_, err := command.LoadServeConfig(nil, func(k string) string { return map[string]string{"LONGSHOREMAN_DB": url}[k] }, io.Discard)
	if err == nil || !strings.Contains(command.ErrorText(err), "LONGSHOREMAN_ADVERTISE") {
		t.Fatalf("serve on etcd without LONGSHOREMAN_ADVERTISE: %v", err)
	}

	ctrls, logs, urls, leader := serveEtcdControllers(t, url, 3, nil)
	follower := (leader + 1) % 3
	if h := health(urls[follower]); h["role"] != "follower" || h["leader_id"] == "" || !strings.Contains(fmt.Sprint(h["redis"]), "follows") || h["db"] != "ok" {
		t.Errorf("a follower's /healthz: %v", h)
	}
	if h := health(urls[leader]); h["role"] != "leader" || strings.Contains(fmt.Sprint(h["redis"]), "follows") {
		t.Errorf("the leader's /healthz: %v", h)
	}
	if !strings.Contains(logs[leader].String(), "leading the controllers") {
		t.Errorf("the leader does not say it leads:\n%s", logs[leader])
	}
	if resp, err := http.Get(urls[follower] + "/healthz"); err != nil {
		t.Fatal(err)
	} else {
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if len(out) != 1 || out["status"] != "ok" {
			t.Errorf("/healthz without the token says more than ok: %v", out)
		}
	}

	hosts := testenv.Hosts(t)
	app := testenv.App(t, "follower")
	env := map[string]string{"LONGSHOREMAN_URL": urls[follower], "LONGSHOREMAN_TOKEN": "t0ken-0123456789", "HOME": t.TempDir()}
	run := func(stdin string, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := cli.Main(ctx, args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return env[k] }); err != nil {
			t.Fatalf("longshoreman %s against a follower: %v\n%s", strings.Join(args, " "), err, errOut.String())
		}
		return out.String() + errOut.String()
	}
	run("", "status")
	for _, h := range hosts {
		run("", "hosts:add", h)
	}
	run("", "hosts:add", "127.0.0.9")
	run("", "hosts:rm", "127.0.0.9")
	run("", "hosts")
	run("", "apps:add", app)
	run("", "apps:add", "gone."+app)
	run("", "apps:rm", "gone."+app)
	run("", "apps")
	run("", "-a", app, "envs:set", "K=v")
	run("", "-a", app, "envs:set", "GONE=1")
	run("", "-a", app, "envs:rm", "GONE")
	if out := run("", "-a", app, "envs"); !strings.Contains(out, "K=v") || strings.Contains(out, "GONE") {
		t.Errorf("envs: %q", out)
	}
	out := run("", "-a", app, "deploy", testenv.Image(t, "1"), "--count", "2")
	if !strings.Contains(out, "healthy") || !strings.Contains(out, "revision 1") {
		t.Errorf("deploy through a follower shows no live progress: %q", out)
	}
	run("", "-a", app, "deploy", testenv.Image(t, "2"))
	run("", "-a", app, "rollback")
	run("", "-a", app, "scale", "3")
	run("", "-a", app, "instances")
	run("", "-a", app, "history")
	run("", "-a", app, "logs")
	run("", "describe")
	run("pw\n", "registries:add", "r.example.com", "--username", "u")
	run("", "registries")
	run("", "registries:rm", "r.example.com")
	backup := filepath.Join(t.TempDir(), "backup.db")
	run("", "backup", backup)
	if st, err := os.Stat(backup); err != nil || st.Size() == 0 {
		t.Errorf("backup through a follower: %v", err)
	}
	run("", "-a", app, "kill")
	if out := run("", "-a", app, "instances"); !strings.Contains(out, "no routed instances") {
		t.Errorf("instances after kill: %q", out)
	}

	// The metrics of the cluster are the leader's.
	code, body := call(t, ctrls[follower], "GET", "/metrics", "")
	if code != 200 || !strings.Contains(string(body), "longshoreman_leader 1") || !strings.Contains(string(body), "longshoreman_leader_changes_total 1") {
		t.Errorf("GET /metrics on a follower = %d, not the leader's:\n%s", code, body)
	}

	// A clean stop hands the leadership over; writes go on.
	if err := ctrls[leader].Close(); err != nil {
		t.Fatal(err)
	}
	rest := []string{}
	for i, u := range urls {
		if i != leader {
			rest = append(rest, u)
		}
	}
	waitLeader(t, rest, 30*time.Second)
	run("", "-a", app, "envs:set", "AFTER=1")
}

// TestControllersWithoutQuorum: two controllers on a private etcd cluster.
// With two of its three members killed, a write to either controller fails
// with 503 and a message naming etcd; once the members are back, the
// controllers elect a leader again and take writes, without a restart.
func TestControllersWithoutQuorum(t *testing.T) {
	t.Parallel()
	ec := testenv.StartEtcd(t)
	url := "etcd://" + strings.Join(ec.Endpoints, ",") + "/longshoreman"
	ctrls, _, urls, leader := serveEtcdControllers(t, url, 2, nil)
	mustCall(t, ctrls[1-leader], "POST", "/apps", `{"app":"a.example.com"}`)

	ec.Kill(1)
	ec.Kill(2)
	for i, c := range ctrls {
		status, body := call(t, c, "POST", "/apps", fmt.Sprintf(`{"app":"b%d.example.com"}`, i))
		if status != 503 || !strings.Contains(string(body), "etcd") {
			t.Fatalf("a write to controller %d without etcd's quorum = %d %s", i, status, body)
		}
	}

	ec.Start(1)
	ec.Start(2)
	waitLeader(t, urls, 60*time.Second)
	for i, c := range ctrls {
		mustCall(t, c, "POST", "/apps", fmt.Sprintf(`{"app":"c%d.example.com"}`, i))
	}
	apps := fmt.Sprint(mustCall(t, ctrls[0], "GET", "/apps", "")["apps"])
	if apps != "[a.example.com c0.example.com c1.example.com]" {
		t.Fatalf("apps after quorum returned: %s", apps)
	}
}
