package integration

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

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
