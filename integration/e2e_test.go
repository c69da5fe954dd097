//go:build integration

package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// Router is `longshoreman router` running as a process.
type Router struct {
	URL string
	cmd *exec.Cmd
	log *os.File
}

func StartRouter(tb testing.TB, redisAddr string) *Router {
	tb.Helper()
	return StartRouterEnv(tb, redisAddr)
}

// testRoutesKey is the routes key of the controllers and routers these
// tests start.
const testRoutesKey = "longshoreman-test-routes-key"

// testRouterToken is the router token of the routers these tests start:
// a router shows its full status only to it.
const testRouterToken = "longshoreman-test-router-token"

// testChannel is the routing-table channel of the controllers and routers
// a test starts (unless it names one): one per top-level test, so that a
// router does not take the tables of another test's controller, running
// in parallel on the same Redis, for its cluster's.
func testChannel(tb testing.TB) string {
	name, _, _ := strings.Cut(tb.Name(), "/")
	return "longshoreman.test." + name
}

// StartRouterEnv starts a router with testRoutesKey, a state directory of
// its own, and env added to its environment.
func StartRouterEnv(tb testing.TB, redisAddr string, env ...string) *Router {
	tb.Helper()
	host, port, _ := net.SplitHostPort(redisAddr)
	r := &Router{}
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(tb))
	r.URL = "http://" + listen
	r.log, _ = os.CreateTemp(tb.TempDir(), "router-*.log")
	r.cmd = exec.Command(Binary(tb), "router", "--listen", listen)
	r.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "REDIS_HOST=" + host, "REDIS_PORT=" + port,
		"LONGSHOREMAN_ROUTES_KEY=" + testRoutesKey, "LONGSHOREMAN_ROUTER_STATE=" + tb.TempDir(),
		"LONGSHOREMAN_ROUTER_TOKEN=" + testRouterToken, "LONGSHOREMAN_CHANNEL=" + testChannel(tb)}, env...)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.cmd.Process.Kill(); r.cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := http.Get(r.URL + "/_ping"); err == nil {
			resp.Body.Close()
			return r
		}
		if time.Now().After(deadline) {
			tb.Fatalf("router did not start: %s", r.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *Router) Log() string {
	b, _ := os.ReadFile(r.log.Name())
	return string(b)
}

// Get sends GET / for app through the router.
func (r *Router) Get(app string) (int, string, error) {
	req, _ := http.NewRequest("GET", r.URL+"/", nil)
	req.Host = app
	return readAnswer(routerClient, req)
}

var routerClient = &http.Client{Timeout: 5 * time.Second}

// readAnswer sends req with client and returns the status and the body of the
// answer; the error is the request's, when it got no answer.
func readAnswer(client *http.Client, req *http.Request) (int, string, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// WaitRoutes waits up to timeout until the router answers 200 for app.
func (r *Router) WaitRoutes(tb testing.TB, app string, timeout time.Duration) {
	tb.Helper()
	testenv.Eventually(tb, timeout, "the router routes "+app, func() bool { s, _, _ := r.Get(app); return s == 200 })
}

// LoadClient sends requests through the router in a loop, bounded in
// count and time, and counts failures and answers by version.
type LoadClient struct {
	failures atomic.Int64
	total    atomic.Int64
	mu       sync.Mutex
	lastErr  string
	versions map[string]int
	stop     chan struct{}
	done     chan struct{}
}

func StartLoad(r *Router, app string, max int, limit time.Duration) *LoadClient {
	l := &LoadClient{versions: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		deadline := time.Now().Add(limit)
		for i := 0; i < max && time.Now().Before(deadline); i++ {
			select {
			case <-l.stop:
				return
			default:
			}
			status, body, err := r.Get(app)
			l.total.Add(1)
			l.mu.Lock()
			if err != nil || status != 200 {
				l.failures.Add(1)
				l.lastErr = fmt.Sprintf("%d %q %v", status, body, err)
			} else {
				l.versions[strings.Fields(body)[0]]++
			}
			l.mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return l
}

func (l *LoadClient) Stop() (total, failures int64, versions map[string]int, lastErr string) {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total.Load(), l.failures.Load(), l.versions, l.lastErr
}

// TestZeroDowntimeThroughRouter redeploys an app five times and changes an
// env twice while a client goes through the router: no request may fail.
// Midway, redis-server is killed and started again: the router keeps
// serving its last table, deploys go on, and the router has the current
// table within one heartbeat of Redis coming back.
func TestZeroDowntimeThroughRouter(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	redis := testenv.StartRedis(t)
	c := StartControllerOn(t, redis.Addr, "LONGSHOREMAN_REPUBLISH=1s", "LONGSHOREMAN_DRAIN=1s")
	c.AddHosts(t, hosts...)
	app := testenv.App(t, "zerodowntime")
	c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":2}`)

	r := StartRouter(t, redis.Addr)
	testenv.Eventually(t, time.Second, "router has the table (sync at start)", func() bool {
		status, _, _ := r.Get(app)
		return status == 200
	})

	load := StartLoad(r, app, 200000, 3*time.Minute)
	deploy := func(image string) {
		c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+image+`"}`)
	}
	deploy(testenv.Image(t, "2"))
	deploy(testenv.Image(t, "1"))
	c.MustCall(t, "POST", "/"+app+"/envs", `{"env":"COLOR=blue"}`)

	// Redis goes away: the router keeps its table, the API and deploys work.
	redis.Stop()
	deploy(testenv.Image(t, "2"))
	c.MustCall(t, "POST", "/"+app+"/envs", `{"env":"COLOR=green"}`)
	redis.Start()
	want := anyStrings(c.MustCall(t, "GET", "/"+app+"/instances", "")["instances"])
	// Within one heartbeat (1s) plus reconnect backoff the router routes to
	// the instances of the deploys made while Redis was away.
	testenv.Eventually(t, 8*time.Second, "router has the current table after Redis is back", func() bool {
		status, body, _ := r.Get(app)
		return status == 200 && strings.Contains(body, "version=2")
	})
	deploy(testenv.Image(t, "1"))
	deploy(testenv.Image(t, "2"))
	total, failures, versions, lastErr := load.Stop()
	t.Logf("%d requests through the router, %d failed; answers by version: %v; instances %v", total, failures, versions, want)
	if failures != 0 {
		t.Fatalf("%d of %d requests failed during deploys; last: %s\nrouter log:\n%s", failures, total, lastErr, r.Log())
	}
	if versions["version=1"] == 0 || versions["version=2"] == 0 || total < 100 {
		t.Fatalf("answers did not switch between versions: %v of %d", versions, total)
	}
	if status, body, _ := r.Get(app); status != 200 || !strings.Contains(body, "version=2") {
		t.Fatalf("after the last deploy: %d %q", status, body)
	}
}

// TestDrainHostThroughRouter removes a host while a client goes through
// the router: its instances are replaced first, no request fails.
func TestDrainHostThroughRouter(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	redis := testenv.StartRedis(t)
	c := StartControllerOn(t, redis.Addr, "LONGSHOREMAN_DRAIN=1s")
	c.AddHosts(t, hosts[:2]...)
	app := testenv.App(t, "drain")
	c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":2}`)
	r := StartRouter(t, redis.Addr)
	testenv.Eventually(t, time.Second, "router has the table", func() bool { s, _, _ := r.Get(app); return s == 200 })

	load := StartLoad(r, app, 100000, time.Minute)
	c.MustCall(t, "POST", "/hosts", `{"host":"`+hosts[2]+`"}`) // rebalances nothing: 2 instances on 2 hosts
	c.MustCall(t, "DELETE", "/hosts/"+hosts[0], "")
	time.Sleep(500 * time.Millisecond)
	total, failures, _, lastErr := load.Stop()
	if failures != 0 {
		t.Fatalf("%d of %d requests failed during the drain; last: %s", failures, total, lastErr)
	}
	for _, a := range anyStrings(c.MustCall(t, "GET", "/"+app+"/instances", "")["instances"]) {
		if strings.HasPrefix(a, hosts[0]+":") {
			t.Fatalf("instance left on the drained host: %s", a)
		}
	}
	t.Logf("%d requests through the router during the drain, none failed", total)
}
