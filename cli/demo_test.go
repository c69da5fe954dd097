//go:build integration

package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// TestDemo runs scripts/demo --ci, the bounded run of the one-command
// local cluster: it must deploy the app with the CLI, get an answer through
// the router, and tear itself down. It builds images and starts a registry
// and redis of its own, against the test environment's dockerd.
func TestDemo(t *testing.T) {
	dockerPort := testenv.DockerPort(t)
	testenv.Hosts(t)
	app := testenv.UniqueApp(t, "demo")
	t.Cleanup(func() { testenv.RemoveContainers(t, app) })

	cmd := exec.Command("bash", "../scripts/demo", "--ci")
	cmd.Env = append(os.Environ(),
		"LONGSHOREMAN_DEMO_STATE="+t.TempDir(),
		fmt.Sprintf("LONGSHOREMAN_DEMO_PORT=%d", testenv.FreePort(t)),
		fmt.Sprintf("LONGSHOREMAN_DEMO_ROUTER_PORT=%d", testenv.FreePort(t)),
		fmt.Sprintf("LONGSHOREMAN_DEMO_REDIS_PORT=%d", testenv.FreePort(t)),
		fmt.Sprintf("LONGSHOREMAN_DEMO_REGISTRY_PORT=%d", testenv.FreePort(t)),
		fmt.Sprintf("LONGSHOREMAN_DEMO_DOCKER_PORT=%d", dockerPort),
		"LONGSHOREMAN_DEMO_APP="+app,
	)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(4 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("scripts/demo --ci did not end within 4 minutes:\n%s", out)
	}
	if err != nil {
		t.Fatalf("scripts/demo --ci: %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{"deploy 127.0.0.1:", "version=1 hostname=", "Dashboard: http://127.0.0.1:", "scripts/demo stop", "Stopping the demo", "stopped serve"} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q:\n%s", want, s)
		}
	}
	if ids := testenv.Docker(t, "ps", "-aq", "--filter", "label=longshoreman.app="+app); ids != "" {
		t.Errorf("the demo left containers of %s: %s", app, ids)
	}
}
