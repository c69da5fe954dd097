//go:build integration

package integration

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/command"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// TestRestoreAdoptsRunningContainers follows the README's restore
// procedure: a backup is taken (without keys); then an instance dies and is
// replaced, and another app is deployed; the controller is stopped, the
// backup restored onto its data file (`longshoreman restore`), and the
// controller started. The reconciler must
// adopt the replacement container (same revision, healthy) instead of
// starting a new one, and remove the containers of the app the backup does
// not know.
func TestRestoreAdoptsRunningContainers(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	path := filepath.Join(t.TempDir(), "ls.db")
	c := StartController(t, path)
	c.AddHosts(t, hosts...)
	kept, later := testenv.UniqueApp(t, "restore"), testenv.UniqueApp(t, "after-backup")
	t.Cleanup(func() { testenv.RemoveContainers(t, kept); testenv.RemoveContainers(t, later) })
	c.MustCall(t, "POST", "/"+kept+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":2}`)

	_, backup := c.CallRaw(t, "GET", "/backup", "")

	// After the backup: an instance dies and is replaced; another app runs.
	before := anyStrings(c.MustCall(t, "GET", "/"+kept+"/instances", "")["instances"])
	victim := containerAt(t, kept, before[0])
	testenv.Docker(t, "kill", victim)
	waitFor(t, 30*time.Second, "the dead instance replaced", func() bool {
		now := anyStrings(c.MustCall(t, "GET", "/"+kept+"/instances", "")["instances"])
		return len(now) == 2 && !contains(now, before[0])
	})
	replaced := anyStrings(c.MustCall(t, "GET", "/"+kept+"/instances", "")["instances"])
	c.MustCall(t, "POST", "/"+later+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":1}`)

	// Restore: stop, restore onto the data file, start.
	c.Kill()
	file := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(file, backup, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := (&command.RestoreCommand{Stdout: io.Discard, Getenv: testGetenv}).Run(context.Background(), []string{file, path}); err != nil {
		t.Fatal(err)
	}
	c.Start(t)
	waitFor(t, 30*time.Second, "the restored controller settled", func() bool {
		now := anyStrings(c.MustCall(t, "GET", "/"+kept+"/instances", "")["instances"])
		out, _ := testenv.DockerErr(t, "ps", "-q", "--filter", "label="+cluster.LabelApp+"="+later)
		return strings.Join(now, ",") == strings.Join(replaced, ",") && strings.TrimSpace(out) == ""
	})
	mustAnswerAll(t, replaced)
	if status, _ := c.Call("GET", "/"+later+"/envs", ""); status != 404 {
		t.Fatalf("the app deployed after the backup is known after restore: %d", status)
	}
}

// containerAt returns the id of app's container published at addr.
func containerAt(t *testing.T, app, addr string) string {
	t.Helper()
	port := addr[strings.LastIndex(addr, ":")+1:]
	out := testenv.Docker(t, "ps", "-q", "--filter", "label="+cluster.LabelApp+"="+app, "--filter", "publish="+port)
	ids := strings.Fields(out)
	if len(ids) != 1 {
		t.Fatalf("containers of %s at %s: %q", app, addr, out)
	}
	return ids[0]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func mustAnswerAll(t *testing.T, addrs []string) {
	t.Helper()
	for _, a := range addrs {
		resp, err := http.Get("http://" + a + "/ping")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s does not answer: %v", a, err)
		}
		resp.Body.Close()
	}
}
