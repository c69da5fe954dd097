package cli_test

import (
	"strings"
	"testing"
)

// The audit verb lists the changes made with the CLI, newest first, with
// the token's name, the operation and what it named, narrowed by app,
// token, time and count; an env's value is in neither its output nor the
// controller's log.
func TestAudit(t *testing.T) {
	t.Parallel()
	c := startController(t)
	u := newCLI(t, c)
	const secret = "hunter2-not-for-the-log"
	u.none([]string{"audit"}, "No change recorded")
	u.ok("apps:add", "a.example.com")
	u.ok("apps:add", "b.example.com")
	u.ok("-a", "a.example.com", "envs:set", "DB_PASSWORD="+secret)
	u.fails([]string{"apps:add", "Not_A_Domain"}, "Not_A_Domain")
	u.ok("apps")

	all := u.ok("audit")
	golden(t, "audit/all", all)
	golden(t, "audit/app", u.ok("audit", "--app", "a.example.com"))
	golden(t, "audit/limit", u.ok("audit", "--by", "root", "--since", "1h", "--limit", "2"))
	if r := u.run("audit", "--by", "nobody"); r.Code != 0 || r.Stdout != "" {
		t.Errorf("audit of an unknown token: %+v", r)
	}
	u.fails([]string{"audit", "--since", "yesterday"}, `since="yesterday"`)
	if strings.Contains(all, secret) || strings.Contains(c.Logs.String(), secret) {
		t.Errorf("the env's value is in the audit log or the controller's log:\n%s\n%s", all, c.Logs.String())
	}
	if n := strings.Count(c.Logs.String(), "msg=audit"); n != 4 {
		t.Errorf("%d audit lines in the controller's log, want 4:\n%s", n, c.Logs.String())
	}
}
