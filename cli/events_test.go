package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	lscli "github.com/longshoreman/longshoreman/cli"
	"github.com/longshoreman/longshoreman/cluster"
)

// follow starts `longshoreman events` with args as u, and returns its
// output so far (read with out.String()) once it follows the stream.
func follow(t *testing.T, u *cli, args ...string) *syncWriter {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append([]string{"events"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + u.Home, "TZ=UTC"}, u.Env...)
	out, errs := &syncWriter{}, &syncWriter{}
	cmd.Stdout, cmd.Stderr = out, errs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	waitOutput(t, errs, "Following the events of", 15*time.Second)
	return out
}

func waitOutput(t *testing.T, w *syncWriter, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(w.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q within %s in:\n%s", want, timeout, w.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEvents follows a controller's events while a deploy fails for want
// of a host and a host that does not answer is marked down: each shows as
// a line, and as the API's JSON with --json; --app keeps out the events
// of other apps.
func TestEvents(t *testing.T) {
	t.Parallel()
	c := startController(t, "LONGSHOREMAN_HOST_GRACE=1s", "LONGSHOREMAN_RECONCILE=300ms")
	u := newCLI(t, c)
	lines := follow(t, u)
	raw := follow(t, u, "--json")
	other := follow(t, u, "--app", "other.example.com")

	u.fails([]string{"-a", "a.example.com", "deploy", "img:1"}, "a.example.com")
	waitOutput(t, lines, "deploy   a.example.com r1 revision: revision 1 of a.example.com", 15*time.Second)
	waitOutput(t, lines, "revision a.example.com r1 failed: ", 15*time.Second)
	u.ok("hosts:add", "127.0.0.9") // nothing listens on its Docker port
	waitOutput(t, lines, "host     down 127.0.0.9", 30*time.Second)
	waitOutput(t, other, "host     down 127.0.0.9", 15*time.Second)
	if strings.Contains(other.String(), "a.example.com") {
		t.Errorf("events --app other.example.com printed another app's events:\n%s", other.String())
	}

	waitOutput(t, raw, `"type":"host"`, 15*time.Second)
	kinds := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(raw.String()), "\n") {
		var e cluster.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Time.IsZero() {
			t.Fatalf("events --json printed %q, not an event (%v)", line, err)
		}
		kinds[e.Type+"/"+e.Step] = true
	}
	for _, want := range []string{"deploy/revision", "deploy/failed", "revision/failed", "host/down"} {
		if !kinds[want] {
			t.Errorf("events --json lacks a %s event: %v", want, kinds)
		}
	}
}

func TestFormatEvent(t *testing.T) {
	at := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		e    cluster.Event
		want string
	}{
		{cluster.Event{Type: "deploy", Step: "routed", App: "shop.example.com", Revision: 3, Host: "10.0.0.5", Instance: "10.0.0.5:32768", Time: at},
			"deploy   shop.example.com r3 routed 10.0.0.5:32768"},
		{cluster.Event{Type: "host", Step: "down", Host: "10.0.0.6", Message: "connection refused", Time: at},
			"host     down 10.0.0.6: connection refused"},
		{cluster.Event{Type: "revision", Step: "failed", App: "a.example.com", Revision: 1, Message: "no host", Time: at},
			"revision a.example.com r1 failed: no host"},
		{cluster.Event{Type: "leader", Step: "elected", Message: "node-1", Time: at},
			"leader   elected: node-1"},
	} {
		want := at.Local().Format("15:04:05") + " " + c.want // printed in local time
		if got := lscli.FormatEvent(c.e); got != want {
			t.Errorf("FormatEvent(%+v) =\n%q, want\n%q", c.e, got, want)
		}
	}
}
