//go:build integration

package cli_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// taskVolatile are the parts of the tasks tables that change from run to
// run, replaced by placeholders of the same width; the TOOK column, whose
// width follows its longest duration (9.9s or 10.2s), is set to the width
// of its heading.
var taskVolatile = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\b[0-9a-f]{16}\b`), "TASKIDTASKIDTASK"},
	{regexp.MustCompile(`\b\d+\.\ds\b`), "N.Ns"},
	{regexp.MustCompile(`\b(TOOK|N\.Ns) {2,}`), "${1}  "},
	{regexp.MustCompile(`127\.0\.0\.\d\b`), "HOST-ADDR"},
}

func normalizeTasks(s string) string {
	for _, v := range taskVolatile {
		s = v.re.ReplaceAllString(s, v.with)
	}
	return s
}

// cliOnHosts starts a controller with hosts added and a client of it;
// app's containers are removed before and after the test.
func cliOnHosts(t *testing.T, hosts []string, app string) *cli {
	t.Helper()
	t.Cleanup(func() { testenv.RemoveContainers(t, app) })
	testenv.RemoveContainers(t, app)
	c := startController(t, fmt.Sprintf("DOCKER_PORT=%d", testenv.DockerPort(t)))
	u := newCLI(t, c)
	for _, h := range hosts {
		u.ok("hosts:add", h)
	}
	return u
}

// TestTasksCommand runs tasks with the CLI on the test hosts and lists
// them: newest first, each with its state and exit code, a deploy's
// release command marked; --task shows one in full with its output.
func TestTasksCommand(t *testing.T) {
	hosts := testenv.Hosts(t)
	v1, _, _ := testImages(t)
	const app = "tasks.example.com"
	u := cliOnHosts(t, hosts, app)
	u.fails([]string{"--app", app, "tasks"}, "does not exist")
	u.ok("--app", app, "deploy", v1, "--count", "1", "--release", "--", "echo", "migrated")

	if r := u.run("--app", app, "run", "--", "exit", "3", "migration", "failed"); r.Code != 3 {
		t.Fatalf("run -- exit 3: exit %d, stderr %s", r.Code, r.Stderr)
	}
	u.ok("--app", app, "run", "--", "echo", "hello")
	if r := u.run("--app", app, "run", "--timeout", "1s", "--", "sleep", "30s"); r.Code != 124 {
		t.Fatalf("run past its timeout: exit %d, stderr %s", r.Code, r.Stderr)
	}

	out := u.ok("--app", app, "tasks")
	golden(t, "tasks/list", normalizeTasks(out))
	// The second row is the echo: one output line, so no stdout and
	// stderr to interleave in either order.
	id := strings.Fields(strings.Split(out, "\n")[2])[0]
	golden(t, "tasks/one", normalizeTasks(u.ok("--app", app, "tasks", "--task", id)))
	u.fails([]string{"--app", app, "tasks", "--task", "0123456789abcdef"}, "no task 0123456789abcdef", "longshoreman tasks --app "+app)
}
