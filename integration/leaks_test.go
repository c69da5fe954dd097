//go:build integration

package integration

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/command"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// TestHealthzWithoutTokenAndFromLastView checks that /healthz tells a
// client without the token only ok/not ok, gives the details with it, and
// does not call the hosts' Docker APIs: a proxy in front of the real
// dockerd counts the pings.
func TestHealthzWithoutTokenAndFromLastView(t *testing.T) {
	t.Parallel()
	testenv.Hosts(t)
	target, _ := url.Parse("http://" + testenv.Addr("127.0.0.1", testenv.DockerPort(t)))
	var pings atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.FlushInterval = -1
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_ping") {
			pings.Add(1)
		}
		proxy.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	c, _ := serveWith(t, map[string]string{"DOCKER_PORT": port}, command.ServerTimeouts{})
	for _, bad := range []string{"169.254.10.1", "fe80::1", "255.255.255.255", "224.0.0.1", "0.0.0.0"} {
		status, b := call(t, c, "POST", "/hosts", `{"host":"`+bad+`"}`)
		if status != 400 || !strings.Contains(string(b), "not a node's address") {
			t.Errorf("POST /hosts %s = %d %s, want 400", bad, status, b)
		}
	}
	mustCall(t, c, "POST", "/hosts", `{"host":"127.0.0.1"}`) // loopback is allowed

	resp, err := http.Get(c.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != `{"status":"ok"}` {
		t.Fatalf("healthz without a token = %d %s, want 200 {\"status\":\"ok\"}", resp.StatusCode, b)
	}
	// Until a reconcile pass has looked at the new host, /healthz pings it
	// itself; wait for a call that shows it ok without a ping.
	deadline := time.Now().Add(time.Minute)
	for {
		n := pings.Load()
		_, b := call(t, c, "GET", "/healthz", "")
		var out struct {
			Status string
			Redis  string
			Hosts  map[string]string
		}
		json.Unmarshal(b, &out)
		if out.Status == "ok" && out.Redis != "" && out.Hosts["127.0.0.1"] == "ok" && pings.Load() == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthz with the token never showed the host ok from a reconcile pass: %s", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	before := pings.Load()
	for range 50 {
		call(t, c, "GET", "/healthz", "")
	}
	// Reconcile passes (one every 5s) ping too, but far fewer than 50 times
	// in the time 50 local requests take.
	if n := pings.Load() - before; n >= 50 {
		t.Fatalf("50 GET /healthz sent %d pings to the host", n)
	}
}

// TestStreamsOutliveTheWriteTimeout deploys with a write timeout of one
// second, shorter than the deploy: both the progress stream and the plain
// answer arrive.
func TestStreamsOutliveTheWriteTimeout(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	c, _ := serveWith(t, map[string]string{"LONGSHOREMAN_DRAIN": "100ms"}, command.ServerTimeouts{Write: time.Second})
	mustCall(t, c, "POST", "/hosts", `{"host":"`+hosts[0]+`"}`)
	app := testenv.App(t, "stream")
	mustCall(t, c, "POST", "/apps", `{"app":"`+app+`"}`)
	mustCall(t, c, "POST", "/"+app+"/envs", `{"env":"SLOW_START=3s"}`) // the test app starts answering after 3s

	start := time.Now()
	req, _ := http.NewRequest("POST", c.URL()+"/"+app+"/deploy", strings.NewReader(`{"image":"`+testenv.Image(t, "1")+`","count":1}`))
	req.Header.Set("X-Auth", "t0ken-0123456789")
	req.Header.Set("Accept", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var last string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		last = sc.Text()
	}
	resp.Body.Close()
	if took := time.Since(start); took < time.Second {
		t.Fatalf("the deploy took %s, less than the write timeout", took)
	}
	if !strings.Contains(last, `"error":false`) {
		t.Fatalf("progress stream ended with %q (%v), want the final answer", last, sc.Err())
	}
	status, b := call(t, c, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "2")+`","count":1}`)
	if status != 200 {
		t.Fatalf("plain deploy with a 1s write timeout = %d %s", status, b)
	}
}

// TestShutdownWaitsForDeploysAndCutsTheRest closes the controller while a
// deploy (its app starts slowly) and a slow backup download are in flight:
// the deploy's answer arrives in full, the download is cut after the grace
// for ordinary requests, and Close returns.
func TestShutdownWaitsForDeploysAndCutsTheRest(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	path := filepath.Join(t.TempDir(), "ls.db")
	fillDataFile(t, path, 4<<20)
	// The grace for ordinary requests covers, on a loaded machine, the
	// write of the deploy's audit entry after its answer (the answer is
	// complete only then); the download outlasts it by far, and so does
	// the deploy: its instance becomes healthy after twice the grace, so
	// that shutdown is still waiting for it when the grace ends.
	const grace = 5 * time.Second
	c, log := serveWith(t, map[string]string{"LONGSHOREMAN_DB": path, "LONGSHOREMAN_DRAIN": "100ms"}, command.ServerTimeouts{Shutdown: grace})
	mustCall(t, c, "POST", "/hosts", `{"host":"`+hosts[0]+`"}`)
	app := testenv.App(t, "shutdown")
	mustCall(t, c, "POST", "/apps", `{"app":"`+app+`"}`)
	mustCall(t, c, "POST", "/"+app+"/envs", `{"env":"SLOW_START=`+(2*grace).String()+`"}`)

	read := slowBackupReader(t, c.URL())
	answer := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest("POST", c.URL()+"/"+app+"/deploy", strings.NewReader(`{"image":"`+testenv.Image(t, "1")+`","count":1}`))
		req.Header.Set("X-Auth", "t0ken-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answer <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answer <- string(b)
	}()
	deadline := time.Now().Add(time.Minute)
	for c.API().Rollouts() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the deploy did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}

	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	select {
	case err := <-closed:
		t.Logf("Close: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatalf("Close did not return within 2 minutes:\n%s", log)
	}
	select {
	case a := <-answer:
		if !strings.Contains(a, `"error":false`) {
			t.Fatalf("the deploy in flight at shutdown answered %q, want its result", a)
		}
	default:
		t.Fatal("Close returned before the deploy in flight answered")
	}
	if !strings.Contains(log.String(), "waiting for deploys in flight") || !strings.Contains(log.String(), "cutting requests still running") {
		t.Errorf("log does not say what shutdown waited for:\n%s", log)
	}
	if n := read.Load(); n <= 0 {
		t.Errorf("the backup download read nothing")
	}
}
