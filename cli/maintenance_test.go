package cli_test

import (
	"strings"
	"testing"
)

// TestMaintenanceOnOff turns maintenance on and off for an app never
// deployed: describe shows it with its message while it is on, and a
// message the controller refuses is reported with its reason.
func TestMaintenanceOnOff(t *testing.T) {
	t.Parallel()
	u := newUser(t)
	u.ok("apps:add", "m.example.com")

	out := u.ok("maintenance:on", "--app", "m.example.com", "--message", "Back at 10:00 UTC.")
	if !strings.Contains(out, `m.example.com is in maintenance`) || !strings.Contains(out, `"Back at 10:00 UTC."`) {
		t.Errorf("maintenance:on: %q", out)
	}
	if out := u.ok("describe"); !strings.Contains(out, `m.example.com is in maintenance since `) || !strings.Contains(out, `"Back at 10:00 UTC."`) {
		t.Errorf("describe in maintenance: %q", out)
	}
	if out := u.ok("maintenance:on", "-a", "m.example.com"); !strings.Contains(out, "will be back shortly") {
		t.Errorf("maintenance:on without a message: %q", out)
	}
	u.fails([]string{"maintenance:on", "-a", "m.example.com", "--message", strings.Repeat("x", 1025)}, "at most 1024")

	if out := u.ok("maintenance:off", "--app", "m.example.com"); out != "m.example.com is out of maintenance: the routers serve it again.\n" {
		t.Errorf("maintenance:off: %q", out)
	}
	if out := u.ok("describe"); strings.Contains(out, "maintenance") {
		t.Errorf("describe after maintenance:off: %q", out)
	}
}
