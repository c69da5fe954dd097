package cli_test

import (
	"regexp"
	"strings"
	"testing"
)

// TestTokens: tokens:add prints the secret alone on stdout, once; the
// secret works as LONGSHOREMAN_TOKEN within its scope and apps, whoami
// says what it is, tokens lists it without its secret, and tokens:rm
// revokes it at once.
func TestTokens(t *testing.T) {
	c := startController(t)
	admin := newCLI(t, c)
	admin.none([]string{"tokens"}, "No tokens but the root token")
	if out := admin.ok("whoami"); out != "root (scope admin, apps all, never expires)\n" {
		t.Fatalf("whoami with the root token = %q", out)
	}
	r := admin.run("tokens:add", "ci", "--scope", "deploy", "--app", "a.example.com", "--app", "b.example.com", "--expires", "90d")
	secret := strings.TrimSpace(r.Stdout)
	if r.Code != 0 || !regexp.MustCompile(`^lst_[0-9a-f]{64}$`).MatchString(secret) || !strings.Contains(r.Stderr, "Token ci: scope deploy, apps a.example.com,b.example.com, expires ") || !strings.Contains(r.Stderr, "shown this once") {
		t.Fatalf("tokens:add = %+v; want the secret alone on stdout", r)
	}
	admin.fails([]string{"tokens:add", "ci", "--scope", "read"}, "A token named ci exists", "longshoreman tokens:rm ci")
	admin.fails([]string{"tokens:add", "x", "--scope", "write"}, "not one of read, deploy, admin")
	admin.fails([]string{"tokens:add", "x"}, "needs --scope")

	ci := newCLI(t, c)
	ci.Env = []string{"LONGSHOREMAN_URL=" + c.URL, "LONGSHOREMAN_TOKEN=" + secret}
	if out := ci.ok("whoami"); !strings.HasPrefix(out, "ci (scope deploy, apps a.example.com,b.example.com, expires ") {
		t.Fatalf("whoami with ci = %q", out)
	}
	ci.ok("apps:add", "a.example.com")
	ci.fails([]string{"apps:add", "c.example.com"}, `Token "ci" (scope deploy, apps a.example.com, b.example.com) may not POST /apps: it is limited to apps a.example.com, b.example.com.`)
	ci.fails([]string{"hosts:add", "127.0.0.9"}, "may not POST /hosts: that needs scope admin")
	ci.fails([]string{"tokens"}, "that needs scope admin")

	list := admin.ok("tokens")
	if !regexp.MustCompile(`(?m)^NAME +SCOPE +APPS +CREATED +EXPIRES +LAST USED\nci +deploy +a\.example\.com,b\.example\.com +\S+Z +\S+Z +\S+Z$`).MatchString(list) || strings.Contains(list, secret) {
		t.Fatalf("tokens = %q; want ci with its last use, without its secret", list)
	}
	if out := admin.ok("tokens:rm", "ci"); !strings.Contains(out, "Removed token ci") {
		t.Fatalf("tokens:rm printed %q", out)
	}
	ci.fails([]string{"apps"}, "Invalid token")
	admin.fails([]string{"tokens:rm", "ci"}, "No token is named ci", "longshoreman tokens")
}
