package cli_test

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// logs checks its parameters through the controller and, with --follow,
// streams until interrupted, then exits 0.
func TestLogsFlags(t *testing.T) {
	t.Parallel()
	u := newUser(t)
	app := "logs.example.com"
	u.ok("apps:add", app)
	golden(t, "help/logs", u.ok("logs", "-h"))

	u.fails([]string{"-a", app, "logs", "--tail", "many"}, `tail="many"`, "0 to 10000")
	u.fails([]string{"-a", app, "logs", "-f", "--since", "soon"}, `since="soon"`, "10m")
	u.fails([]string{"-a", "nope.example.com", "logs", "-f"}, "nope.example.com")
	if out := u.ok("-a", app, "logs", "--tail", "3", "--since", "1h"); out != "" {
		t.Errorf("logs of an app without instances printed %q", out)
	}

	cmd := exec.Command(bin, "-a", app, "logs", "-f", "--tail", "0")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + u.Home}, u.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		t.Fatalf("logs -f exited on its own (%v): %s", err, stderr.String())
	case <-time.After(2 * time.Second):
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		if err != nil || stdout.Len() != 0 || strings.Contains(stderr.String(), "longshoreman:") {
			t.Errorf("logs -f interrupted: %v, stdout %q, stderr %q; want exit 0 and nothing printed", err, stdout.String(), stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("logs -f still running 30s after SIGINT")
	}
}
