//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// holdClient sends requests through the router in a loop, as a user does
// during a redeploy: each may be held by the router while the app has no
// instance, so its timeout is generous. It counts failures and keeps the
// longest wait.
type holdClient struct {
	mu       sync.Mutex
	total    int
	failures int
	lastErr  string
	longest  time.Duration
	stop     chan struct{}
	done     chan struct{}
}

func startHoldClient(r *Router, app string) *holdClient {
	l := &holdClient{stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 2 * time.Minute}
	go func() {
		defer close(l.done)
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			req, _ := http.NewRequest("GET", r.URL+"/version", nil)
			req.Host = app
			start := time.Now()
			resp, err := client.Do(req)
			took := time.Since(start)
			status, body := 0, ""
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				status, body = resp.StatusCode, string(b)
			}
			l.mu.Lock()
			l.total++
			l.longest = max(l.longest, took)
			if err != nil || status != 200 {
				l.failures++
				l.lastErr = fmt.Sprintf("%d %q %v", status, body, err)
			}
			l.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return l
}

// Stop ends the loop and returns its counts since the last Stop.
func (l *holdClient) Stop() (total, failures int, longest time.Duration, lastErr string) {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total, l.failures, l.longest, l.lastErr
}

// routerFile reads or writes the file at path in the app's instance
// through the router.
func routerFile(tb testing.TB, r *Router, app, method, path, body string) (int, string) {
	tb.Helper()
	req, _ := http.NewRequest(method, r.URL+"/file?path="+path, strings.NewReader(body))
	req.Host = app
	status, b, err := readAnswer(&http.Client{Timeout: time.Minute}, req)
	if err != nil {
		tb.Fatalf("%s /file through the router: %v", method, err)
	}
	return status, b
}

// TestVolumeSurvivesRedeploys deploys an app with a volume pinned to one
// host, writes a file into the volume through the router, redeploys it
// three times and rolls it back: the file is still there after each, the
// running container has the named volume mounted, no request of a client
// going through the router meanwhile fails (the router holds them while
// the app is replaced stop-first), and removing the pinned host is
// refused, naming the app and its volume.
func TestVolumeSurvivesRedeploys(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	redis := testenv.Redis(t)
	c := StartControllerOn(t, redis, "LONGSHOREMAN_DRAIN=1s")
	c.AddHosts(t, hosts...)
	app := testenv.UniqueApp(t, "volumes")
	volume := "longshoreman-" + app + "-data"
	t.Cleanup(func() {
		testenv.RemoveContainers(t, app)
		// Gone already when the test got to volumes:rm.
		if out, err := testenv.DockerErr(t, "volume", "rm", volume); err != nil && !strings.Contains(out, "no such volume") {
			t.Logf("removing the test volume %s: %v: %s", volume, err, out)
		}
	})
	pin := hosts[0]
	c.MustCall(t, "POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","volumes":["data:/data"],"hosts":["`+pin+`"],"hold":"2m"}`)
	r := StartRouter(t, redis)
	r.WaitRoutes(t, app, 60*time.Second)
	if status, body := routerFile(t, r, app, "PUT", "/data/probe", "written by revision 1"); status != 201 {
		t.Fatalf("writing the probe file = %d %s", status, body)
	}

	checkMounted := func(when string) {
		t.Helper()
		running := runningContainers(t, app)
		if len(running) != 1 {
			t.Fatalf("%s: %d containers of %s run, want 1", when, len(running), app)
		}
		out := testenv.Docker(t, "inspect", "--format", "{{json .Mounts}}", running[0].ID)
		var mounts []struct{ Type, Name, Destination string }
		if err := json.Unmarshal([]byte(out), &mounts); err != nil {
			t.Fatalf("%s: docker inspect mounts %q: %v", when, out, err)
		}
		if len(mounts) != 1 || mounts[0].Type != "volume" || mounts[0].Name != volume || mounts[0].Destination != "/data" {
			t.Fatalf("%s: docker inspect shows mounts %+v, want the volume %s at /data", when, mounts, volume)
		}
		if running[0].Labels["longshoreman.host"] != pin {
			t.Fatalf("%s: the instance runs on %s, want the pinned host %s", when, running[0].Labels["longshoreman.host"], pin)
		}
	}
	checkMounted("after the first deploy")

	steps := []struct{ what, path, body string }{
		{"redeploy 1", "/apps/" + app + "/deploy", `{"image":"` + testenv.Image(t, "2") + `"}`},
		{"redeploy 2", "/apps/" + app + "/deploy", `{"image":"` + testenv.Image(t, "1") + `"}`},
		{"redeploy 3", "/apps/" + app + "/deploy", `{"image":"` + testenv.Image(t, "2") + `"}`},
		{"rollback", "/apps/" + app + "/rollback", `{}`},
	}
	for _, step := range steps {
		load := startHoldClient(r, app)
		testenv.Eventually(t, 60*time.Second, "the client's first answers", func() bool { load.mu.Lock(); defer load.mu.Unlock(); return load.total >= 3 })
		c.MustCall(t, "POST", step.path, step.body)
		// A few answers of the new instance, then stop the client.
		r.WaitRoutes(t, app, 60*time.Second)
		total, failures, longest, lastErr := load.Stop()
		t.Logf("%s: %d requests through the router, %d failed; the longest was held %s", step.what, total, failures, longest.Round(time.Millisecond))
		if failures != 0 {
			t.Errorf("%s: %d of %d requests failed; last: %s\nrouter log:\n%s", step.what, failures, total, lastErr, r.Log())
		}
		if status, body := routerFile(t, r, app, "GET", "/data/probe", ""); status != 200 || body != "written by revision 1" {
			t.Fatalf("%s: the probe file = %d %q, want it kept in the volume", step.what, status, body)
		}
		checkMounted("after " + step.what)
	}
	if _, body, _ := r.Get(app); !strings.Contains(body, "version=1") {
		t.Errorf("after the rollback the app answers %q, want version 1; the controller's log:\n%s", body, c.Log())
	}

	status, out := c.Call("DELETE", "/hosts/"+pin, "")
	said, _ := json.Marshal(out)
	if status != 409 || !strings.Contains(string(said), app) || !strings.Contains(string(said), "data:/data") || !strings.Contains(string(said), "force") {
		t.Fatalf("removing the pinned host = %d %s, want 409 naming %s, its volume and --force", status, said, app)
	}
	if s, _, _ := r.Get(app); s != 200 {
		t.Fatalf("after the refused removal the app answers %d", s)
	}

	// volumes:rm: refused while the app runs with the volume, done once
	// it is stopped; Docker no longer has it.
	if status, out := c.Call("DELETE", "/apps/"+app+"/volumes/data", ""); status != 409 {
		t.Fatalf("removing the volume of the running app = %d %v, want 409", status, out)
	}
	c.MustCall(t, "POST", "/apps/"+app+"/kill", "")
	if _, err := testenv.DockerErr(t, "volume", "inspect", volume); err != nil {
		t.Fatalf("the kill removed the volume %s: %v", volume, err)
	}
	out = c.MustCall(t, "DELETE", "/apps/"+app+"/volumes/data", "")
	if out["volume"] != volume || len(anyStrings(out["hosts"])) == 0 {
		t.Fatalf("volumes:rm answered %v, want %s removed from a host", out, volume)
	}
	if got, err := testenv.DockerErr(t, "volume", "inspect", volume); err == nil {
		t.Fatalf("the volume %s is still there after volumes:rm: %s", volume, got)
	}
}
