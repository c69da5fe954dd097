package cli_test

import "testing"

// top --once lists every app with its figures of the last minute, the
// busiest first and by name among equals; without traffic (no router
// sent any) they are zero and the latencies "-".
func TestTopOnce(t *testing.T) {
	t.Parallel()
	u := newUser(t)
	golden(t, "top/none", u.ok("top", "--once"))
	u.ok("apps:add", "b.example.com")
	u.ok("apps:add", "a.example.com")
	golden(t, "top/idle", u.ok("top", "--once"))
}
