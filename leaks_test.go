package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// serveWith runs the controller in-process like MustServe, with its log in
// the returned buffer and the timeouts given.
func serveWith(t *testing.T, env map[string]string, timeouts ServerTimeouts) (*ServeCommand, *testenv.Log) {
	t.Helper()
	base := map[string]string{"LONGSHOREMAN_TOKEN": "t0ken-0123456789", "LONGSHOREMAN_LISTEN": "127.0.0.1:0", "REDIS_PORT": "1", "LONGSHOREMAN_INIT": "1"}
	if env["LONGSHOREMAN_DB"] == "" {
		base["LONGSHOREMAN_DB"] = filepath.Join(t.TempDir(), "ls.db")
	}
	for k, v := range env {
		base[k] = v
	}
	log := &testenv.Log{}
	c := &ServeCommand{Stderr: log, Getenv: func(k string) string { return base[k] }}
	if err := c.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	c.Config.Timeouts = timeouts
	if err := c.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, log
}

// TestGeneratedTokenGoesToAFile starts a controller without a token: the
// generated one is written to <db>.token with mode 0600 and its path, not
// the token, is in the log. A short LONGSHOREMAN_TOKEN is refused.
func TestGeneratedTokenGoesToAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ls.db")
	c, log := serveWith(t, map[string]string{"LONGSHOREMAN_DB": path, "LONGSHOREMAN_TOKEN": ""}, ServerTimeouts{})
	token, err := readToken(path)
	if err != nil || len(token) < MinTokenLength {
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
	c.Close()

	// A stale file (the data file was restored from another controller's
	// backup) is rewritten at the next start.
	if err := os.WriteFile(path+".token", []byte("stale-token-0123456789\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	serveWith(t, map[string]string{"LONGSHOREMAN_DB": path, "LONGSHOREMAN_TOKEN": ""}, ServerTimeouts{})
	st, err = os.Stat(path + ".token")
	if b, _ := os.ReadFile(path + ".token"); err != nil || strings.TrimSpace(string(b)) != token || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file after a restart: %q %v %v", b, st, err)
	}

	for _, short := range []string{"t0ken", "123456789012345"} {
		s := &ServeCommand{Stderr: io.Discard, Getenv: func(k string) string {
			return map[string]string{"LONGSHOREMAN_TOKEN": short, "LONGSHOREMAN_DB": path}[k]
		}}
		if err := s.ParseFlags(nil); err == nil || !strings.Contains(err.Error(), "at least 16") {
			t.Errorf("LONGSHOREMAN_TOKEN=%s: %v, want a refusal naming the minimum", short, err)
		}
	}
}

// TestHealthzWithoutTokenAndFromLastView checks that /healthz tells a
// client without the token only ok/not ok, gives the details with it, and
// does not call the hosts' Docker APIs: a proxy in front of the real
// dockerd counts the pings.
func TestHealthzWithoutTokenAndFromLastView(t *testing.T) {
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

	c, _ := serveWith(t, map[string]string{"DOCKER_PORT": port}, ServerTimeouts{})
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
	hosts := testenv.Hosts(t)
	c, _ := serveWith(t, map[string]string{"LONGSHOREMAN_DRAIN": "100ms"}, ServerTimeouts{Write: time.Second})
	mustCall(t, c, "POST", "/hosts", `{"host":"`+hosts[0]+`"}`)
	app := testenv.UniqueApp(t, "stream")
	t.Cleanup(func() { testenv.RemoveContainers(t, app) })
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

// TestShutdownCutsSlowRequestsAndSecondSignalExits runs the binary with a
// slow backup download in flight: the first SIGTERM starts a graceful
// shutdown that waits for it, the second exits at once.
func TestShutdownCutsSlowRequestsAndSecondSignalExits(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ls.db")
	fillDataFile(t, path, 4<<20)
	port := testenv.FreePort(t)
	cmd := exec.Command(Binary(t), "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "LONGSHOREMAN_DB=" + path, "LONGSHOREMAN_TOKEN=t0ken-0123456789",
		fmt.Sprintf("LONGSHOREMAN_LISTEN=127.0.0.1:%d", port), "REDIS_PORT=1", "LONGSHOREMAN_INIT=1"}
	log := &testenv.Log{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if resp, err := http.Get(url + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("controller did not start:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	slowBackupReader(t, url)

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		t.Fatalf("exited (%v) at the first SIGTERM with a download in flight; want it to wait:\n%s", waitErr, log)
	case <-time.After(2 * time.Second):
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if waitErr == nil || !strings.Contains(log.String(), "second signal (terminated): exiting now") {
			t.Fatalf("after a second SIGTERM: %v\n%s", waitErr, log)
		}
	case <-time.After(15 * time.Second): // the graceful wait is 30s
		t.Fatalf("still running 15s after a second SIGTERM:\n%s", log)
	}
}

// TestShutdownWaitsForDeploysAndCutsTheRest closes the controller while a
// deploy (its app starts slowly) and a slow backup download are in flight:
// the deploy's answer arrives in full, the download is cut after the grace
// for ordinary requests, and Close returns.
func TestShutdownWaitsForDeploysAndCutsTheRest(t *testing.T) {
	hosts := testenv.Hosts(t)
	path := filepath.Join(t.TempDir(), "ls.db")
	fillDataFile(t, path, 4<<20)
	c, log := serveWith(t, map[string]string{"LONGSHOREMAN_DB": path, "LONGSHOREMAN_DRAIN": "100ms"}, ServerTimeouts{Shutdown: time.Second})
	mustCall(t, c, "POST", "/hosts", `{"host":"`+hosts[0]+`"}`)
	app := testenv.UniqueApp(t, "shutdown")
	t.Cleanup(func() { testenv.RemoveContainers(t, app) })
	mustCall(t, c, "POST", "/apps", `{"app":"`+app+`"}`)
	mustCall(t, c, "POST", "/"+app+"/envs", `{"env":"SLOW_START=4s"}`)

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
	for c.api.Rollouts() == 0 {
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
