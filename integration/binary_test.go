package integration

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// TestBinaryRefusesBadSettings runs the built binary with values that used
// to pass (a negative reconcile interval panicked in time.NewTicker): it
// exits 1 with one line per bad value, and creates no data file.
func TestBinaryRefusesBadSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		args  []string
		env   []string
		names []string
	}{
		{[]string{"serve", "--reconcile=-1s", "--init", "--db", "ls.db"}, nil, []string{"--reconcile (LONGSHOREMAN_RECONCILE) must be a duration above zero"}},
		{[]string{"serve", "--init"}, []string{"LONGSHOREMAN_REPUBLISH=0s", "REDIS_PORT=http", "LONGSHOREMAN_REBALANCE=yes"}, []string{"LONGSHOREMAN_REBALANCE"}},
		{[]string{"serve", "--init"}, []string{"LONGSHOREMAN_REPUBLISH=0s", "REDIS_PORT=http"}, []string{"--republish (LONGSHOREMAN_REPUBLISH)", "--redis (REDIS_HOST, REDIS_PORT)"}},
		{[]string{"router", "--max-conns=-1"}, []string{"LONGSHOREMAN_ROUTES_KEY=routes-key-0123456789"}, []string{"--max-conns (LONGSHOREMAN_MAX_CONNS)"}},
		{[]string{"token", "--db="}, nil, []string{"--db (LONGSHOREMAN_DB) is empty"}},
	} {
		cmd := exec.Command(Binary(t), tc.args...)
		cmd.Dir = dir
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, tc.env...)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || strings.Contains(string(out), "panic") {
			t.Errorf("%v %v: %v, want exit status 1\n%s", tc.env, tc.args, err, out)
		}
		for _, n := range tc.names {
			if !strings.Contains(string(out), n) {
				t.Errorf("%v %v: output does not name %q:\n%s", tc.env, tc.args, n, out)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused starts left files: %v", entries)
	}
}

// TestBinaryStartsAndStopsOnSIGTERM builds the binary and runs it with its
// defaults in an empty directory, with no Redis and no hosts: it must start,
// say what it waits for, answer /healthz, and exit 0 on SIGTERM with the
// data file closed (a new open succeeds at once).
func TestBinaryStartsAndStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := Binary(t)
	port := testenv.FreePort(t)
	cmd := exec.Command(bin, "serve", "--port", fmt.Sprint(port))
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "REDIS_PORT=1"}
	stderr := &testenv.Log{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if status := waitAnswer(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", port), 10*time.Second, stderr); status != 200 {
		t.Fatalf("healthz = %d", status)
	}
	time.Sleep(2500 * time.Millisecond) // let it say what it waits for
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
	}
	log := stderr.String()
	for _, want := range []string{"Generated an API token", "waiting for Redis", "waiting for hosts", "shutting down"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	d, err := db.Open(filepath.Join(dir, "longshoreman.db"), db.Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("data file still locked after exit: %v", err)
	}
	d.Close()
}

// TestShutdownCutsSlowRequestsAndSecondSignalExits runs the binary with a
// slow backup download in flight: the first SIGTERM starts a graceful
// shutdown that waits for it, the second exits at once.
func TestShutdownCutsSlowRequestsAndSecondSignalExits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "ls.db")
	fillDataFile(t, path, 4<<20)
	port := testenv.FreePort(t)
	cmd := exec.Command(Binary(t), "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "LONGSHOREMAN_DB=" + path, "LONGSHOREMAN_TOKEN=t0ken-0123456789",
		fmt.Sprintf("LONGSHOREMAN_LISTEN=127.0.0.1:%d", port), "REDIS_PORT=1", "LONGSHOREMAN_INIT=1", "LONGSHOREMAN_SECRETS_KEY=" + testSecretsKey}
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
	waitAnswer(t, url+"/healthz", 15*time.Second, log)
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

// waitAnswer GETs url until it answers and returns the status of the
// answer, failing the test with the process's log after timeout.
func waitAnswer(t *testing.T, url string, timeout time.Duration, log *testenv.Log) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return resp.StatusCode
		}
		if time.Now().After(deadline) {
			t.Fatalf("the controller did not answer within %s:\n%s", timeout, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
