//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// limitsOf returns the memory, swap and CPU limits Docker holds for the
// container behind instance addr (host:port) of app; ok is false when no
// running container of app publishes that port.
func limitsOf(t *testing.T, app, addr string) (mem, swap, nanoCPUs int64, ok bool) {
	t.Helper()
	ids := strings.Fields(testenv.Docker(t, "ps", "-q", "--no-trunc", "--filter", "label=longshoreman.app="+app))
	for _, id := range ids {
		out := testenv.Docker(t, "inspect", "-f", "{{json .HostConfig}} {{json .NetworkSettings.Ports}}", id)
		hc, ports, _ := strings.Cut(out, " ")
		_, port, _ := strings.Cut(addr, ":")
		if !strings.Contains(ports, `"HostPort":"`+port+`"`) {
			continue
		}
		var v struct{ Memory, MemorySwap, NanoCpus int64 }
		if err := json.Unmarshal([]byte(hc), &v); err != nil {
			t.Fatalf("inspect %s: %v: %s", id, err, hc)
		}
		return v.Memory, v.MemorySwap, v.NanoCpus, true
	}
	return 0, 0, 0, false
}

// hostsAndApp starts the controller binary, env added, with the first n
// test hosts, and returns it, the hosts and a new app (prefix).
func hostsAndApp(t *testing.T, n int, prefix string, env ...string) (*Controller, []string, string) {
	t.Helper()
	hosts := testenv.Hosts(t)[:n]
	c := StartController(t, filepath.Join(t.TempDir(), "ls.db"), env...)
	c.AddHosts(t, hosts...)
	return c, hosts, testenv.App(t, prefix)
}

// TestMemoryAndCPULimits deploys with --memory 64m --cpus 0.5 and checks
// that Docker enforces them on every instance (no swap beyond the limit),
// that a deploy leaving them out keeps them, that removing them works, and
// that a rollback restores a revision's limits.
func TestMemoryAndCPULimits(t *testing.T) {
	t.Parallel()
	c, _, app := hostsAndApp(t, 2, "limits")
	check := func(what string, mem, nano int64) {
		t.Helper()
		// The routed instances and the running containers, read apart: on
		// a busy machine an instance may be replaced between the two reads.
		var insts []string
		testenv.Eventually(t, 30*time.Second, what+": a running container behind each of two routed instances", func() bool {
			insts = anyStrings(c.MustCall(t, "GET", "/apps/"+app+"/instances", "")["instances"])
			for _, addr := range insts {
				if _, _, _, ok := limitsOf(t, app, addr); !ok {
					return false
				}
			}
			return len(insts) == 2
		})
		for _, addr := range insts {
			m, swap, n, _ := limitsOf(t, app, addr)
			wantSwap := mem
			if mem == 0 {
				wantSwap = 0
			}
			if m != mem || swap != wantSwap || n != nano {
				t.Fatalf("%s: %s runs with Memory=%d MemorySwap=%d NanoCpus=%d, want %d, %d, %d", what, addr, m, swap, n, mem, wantSwap, nano)
			}
		}
	}
	c.MustCall(t, "POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":2,"memory":"64m","cpus":0.5}`)
	check("deploy --memory 64m --cpus 0.5", 64<<20, 5e8)
	desc := c.MustCall(t, "GET", "/apps/"+app, "")["description"].(map[string]any)
	if desc["memory"] != float64(64<<20) || desc["cpus"] != 0.5 {
		t.Fatalf("GET /apps/%s: memory %v, cpus %v; want 67108864, 0.5", app, desc["memory"], desc["cpus"])
	}

	c.MustCall(t, "POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "2")+`"}`)
	check("a deploy without limits keeps the app's", 64<<20, 5e8)

	c.MustCall(t, "POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "2")+`","memory":"none","cpus":"none"}`)
	check("memory and cpus none remove the limits", 0, 0)

	c.MustCall(t, "POST", "/apps/"+app+"/rollback", `{"revision":1}`)
	check("rollback to revision 1", 64<<20, 5e8)
	hist := c.MustCall(t, "GET", "/apps/"+app+"/history", "")["history"].([]any)
	if top := hist[0].(map[string]any); top["revision"] != float64(4) || top["memory"] != float64(64<<20) || top["cpus"] != 0.5 {
		t.Fatalf("history's newest entry = %v, want revision 4 with revision 1's limits", top)
	}
	if third := hist[1].(map[string]any); third["memory"] != nil || third["cpus"] != nil {
		t.Fatalf("revision 3 = %v, want no limits", third)
	}
}

// TestDeployThatCannotFitIsRefused asks for twice the memory a host has:
// 503 naming what it needs and what each host has free, and the running
// instances untouched. Then 400 for a limit below Docker's minimum.
func TestDeployThatCannotFitIsRefused(t *testing.T) {
	t.Parallel()
	c, hosts, app := hostsAndApp(t, 2, "nofit")
	c.MustCall(t, "POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":2,"memory":"64m"}`)
	before := anyStrings(c.MustCall(t, "GET", "/apps/"+app+"/instances", "")["instances"])

	var info struct{ MemTotal int64 }
	if err := json.Unmarshal([]byte(testenv.Docker(t, "info", "-f", "{{json .}}")), &info); err != nil || info.MemTotal == 0 {
		t.Fatalf("docker info: MemTotal %d, %v", info.MemTotal, err)
	}
	huge := 2 * info.MemTotal
	status, out := c.Call("POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "2")+`","memory":`+strconv.FormatInt(huge, 10)+`}`)
	msg, _ := out["error"].(string)
	if status != http.StatusServiceUnavailable || out["code"] != "unavailable" {
		t.Fatalf("deploy of %d bytes per instance = %d %v, want 503", huge, status, out)
	}
	// The figures: what one instance needs, how many, and each host's free
	// memory (its total, less the 64m of the instance of this app on it).
	for _, want := range []string{"needs " + approxSize(huge) + " per instance x2", "2 fit on no host",
		hosts[0] + " " + approxSize(info.MemTotal-64<<20), hosts[1] + " " + approxSize(info.MemTotal-64<<20), "add a host"} {
		if !strings.Contains(msg, want) {
			t.Errorf("503 message lacks %q:\n%s", want, msg)
		}
	}
	if after := anyStrings(c.MustCall(t, "GET", "/apps/"+app+"/instances", "")["instances"]); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Fatalf("instances changed from %v to %v by a refused deploy", before, after)
	}
	for _, addr := range before {
		if status, body := testenv.HTTPGet(t, addr, "/version", 5*time.Second); status != 200 || body != "1" {
			t.Fatalf("GET %s/version after the refused deploy = %d %q", addr, status, body)
		}
	}
	hist := c.MustCall(t, "GET", "/apps/"+app+"/history", "")["history"].([]any)
	if top := hist[0].(map[string]any); top["status"] != "failed" || !strings.Contains(fmt.Sprint(top["reason"]), "Not enough memory") || top["current"] == true {
		t.Fatalf("history's newest entry = %v, want the refused deploy failed with the reason", top)
	}

	status, out = c.Call("POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "2")+`","memory":"4m"}`)
	if status != 400 || !strings.Contains(fmt.Sprint(out["error"]), `Field "memory" is 4m, below Docker's minimum of 6m`) {
		t.Fatalf("memory 4m = %d %v, want 400 naming the field", status, out)
	}
}

// approxSize writes b as the 503 message does (one decimal, units of 1024).
func approxSize(b int64) string {
	for _, u := range []struct {
		s string
		n int64
	}{{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
		if b >= u.n {
			return strings.TrimSuffix(strconv.FormatFloat(float64(b)/float64(u.n), 'f', 1, 64), ".0") + u.s
		}
	}
	return strconv.FormatInt(b, 10)
}

// TestKilledForMemoryIsReportedAndReplaced makes an instance limited to 64m
// allocate 200 MiB: the kernel kills it, and the controller reports it
// (history, log) and replaces it with a new healthy, routed instance, even
// though Docker's restart policy restarts the killed container in place.
func TestKilledForMemoryIsReportedAndReplaced(t *testing.T) {
	t.Parallel()
	c, _, app := hostsAndApp(t, 2, "oom", "LONGSHOREMAN_RECONCILE=1s")
	c.MustCall(t, "POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":2,"memory":"64m"}`)
	before := anyStrings(c.MustCall(t, "GET", "/apps/"+app+"/instances", "")["instances"])
	victim := before[0]

	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Post("http://"+victim+"/alloc?mb=200", "text/plain", nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == 400 || resp.StatusCode == 404 {
			t.Fatalf("POST /alloc on %s = %d: the test image lacks the endpoint (build it from testapp/)", victim, resp.StatusCode)
		}
	}

	var now []string
	testenv.Eventually(t, 90*time.Second, "the instance killed for memory replaced by a routed one", func() bool {
		now = anyStrings(c.MustCall(t, "GET", "/apps/"+app+"/instances", "")["instances"])
		return len(now) == 2 && !contains(now, victim)
	})
	for _, addr := range now {
		if status, _ := testenv.HTTPGet(t, addr, "/ping", 10*time.Second); status != 200 {
			t.Fatalf("GET %s/ping = %d after the replacement", addr, status)
		}
	}
	var top map[string]any
	testenv.Eventually(t, 30*time.Second, "the kill counted in the history", func() bool {
		top = c.MustCall(t, "GET", "/apps/"+app+"/history", "")["history"].([]any)[0].(map[string]any)
		return top["oom_kills"] == float64(1)
	})
	if last, _ := top["last_oom"].(float64); time.Since(time.Unix(int64(last), 0)) > 5*time.Minute {
		t.Fatalf("history's last_oom = %v, want the kill's time", top["last_oom"])
	}
	log := c.Log()
	if !strings.Contains(log, "instance killed for memory (oom)") || !strings.Contains(log, "instance="+victim) {
		t.Fatalf("the log does not report %s killed for memory:\n%s", victim, log)
	}
	// The killed container is gone, not left restarting in place.
	testenv.Eventually(t, 30*time.Second, "only the two routed containers left", func() bool {
		ids := strings.Fields(testenv.Docker(t, "ps", "-aq", "--filter", "label=longshoreman.app="+app))
		return len(ids) == 2
	})
}

// TestDeployKilledForMemoryFails deploys a revision whose health check
// makes each new instance allocate past its 64m limit: the deploy fails
// with 502 saying the instance was killed for memory, and the instances
// that ran keep serving.
func TestDeployKilledForMemoryFails(t *testing.T) {
	t.Parallel()
	c, _, app := hostsAndApp(t, 1, "oomdeploy")
	c.MustCall(t, "POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":1}`)
	before := anyStrings(c.MustCall(t, "GET", "/apps/"+app+"/instances", "")["instances"])

	status, out := c.Call("POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "2")+`","memory":"64m","healthcheck":{"path":"/alloc?mb=200","timeout":"30s"}}`)
	msg := fmt.Sprint(out["error"])
	if status != http.StatusBadGateway || !strings.Contains(msg, "killed for memory (oom)") || !strings.Contains(msg, "raise --memory") {
		t.Fatalf("deploy whose instances run out of memory = %d %v, want 502 saying so", status, out)
	}
	if after := anyStrings(c.MustCall(t, "GET", "/apps/"+app+"/instances", "")["instances"]); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Fatalf("instances changed from %v to %v by a failed deploy", before, after)
	}
	if status, body := testenv.HTTPGet(t, before[0], "/version", 5*time.Second); status != 200 || body != "1" {
		t.Fatalf("GET %s/version after the failed deploy = %d %q", before[0], status, body)
	}
}
