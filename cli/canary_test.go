//go:build integration

package cli_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// TestCanaryCommands drives a canary with the CLI: deploy --canary, the
// note describe prints, the canary status in history, the 409 of a deploy
// meanwhile, then abort and promote.
func TestCanaryCommands(t *testing.T) {
	hosts := testenv.Hosts(t)
	v1, v2, _ := testImages(t)
	const app = "canary-cli.example.com"
	u := cliOnHosts(t, hosts, app)
	u.ok("-a", app, "deploy", v1, "--count", "2")
	u.fails([]string{"-a", app, "deploy", v2, "--canary-count", "2"}, "need a canary", "--canary 10")
	u.fails([]string{"-a", app, "deploy", v2, "--canary", "100"}, "100 percent", "1 to 99")
	u.fails([]string{"-a", app, "deploy", v2, "--canary", "10", "--canary-auto", "soon"}, "--canary-auto", "5m")

	out := u.ok("-a", app, "deploy", v2, "--canary", "20", "--canary-auto", "1h")
	if !regexp.MustCompile(`(?m)^Started .*:2 as a canary of canary-cli.example.com taking 20% of its requests \(promote or abort it\): revision 2, 1 instances?, in `).MatchString(out) {
		t.Errorf("canary deploy:\n%s", out)
	}
	if out := u.ok("describe", "-a", app); !regexp.MustCompile(`canary-cli.example.com runs a canary of revision 2 since \S+: 20% of its clients, instances 127\.0\.0\.\d+:\d+; promoted by itself at \S+ \(promote or abort it\)`).MatchString(out) ||
		!strings.Contains(out, "2/2") {
		t.Errorf("describe during the canary:\n%s", out)
	}
	if out := u.ok("history", "-a", app); !regexp.MustCompile(`(?m)^\s*2\s.*canary`).MatchString(out) {
		t.Errorf("history during the canary:\n%s", out)
	}
	u.fails([]string{"-a", app, "scale", "3"}, "has a canary under way (revision 2, 20% of its requests)", "abort")

	out = u.ok("-a", app, "abort", "--reason", "too slow")
	if !strings.Contains(out, "Aborted the canary of canary-cli.example.com: revision 1, 2 instances") {
		t.Errorf("abort:\n%s", out)
	}
	if out := u.ok("history", "-a", app); !strings.Contains(out, "too slow") {
		t.Errorf("history after abort:\n%s", out)
	}
	u.fails([]string{"-a", app, "promote"}, "has no canary to promote")

	u.ok("-a", app, "deploy", v2, "--canary", "50", "--canary-count", "2")
	out = u.ok("-a", app, "promote")
	if !strings.Contains(out, "Promoted the canary of canary-cli.example.com: revision 3, 2 instances") {
		t.Errorf("promote:\n%s", out)
	}
	if out := u.ok("describe", "-a", app); strings.Contains(out, "canary of revision") || !strings.Contains(out, "2/2") {
		t.Errorf("describe after promote:\n%s", out)
	}
}
