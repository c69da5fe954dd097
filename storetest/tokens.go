package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// apiToken is a token named name with secret's hash, made at the test
// clock's start.
func apiToken(name string, scope cluster.Scope, secret string, apps ...string) cluster.APIToken {
	return cluster.APIToken{Name: name, Scope: scope, Apps: apps, Hash: cluster.HashToken(secret),
		Created: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)}
}

func tokenNames(ts []cluster.APIToken) string {
	return joined(ts, func(t cluster.APIToken) string { return t.Name })
}

// testTokens: tokens are created once per name, validated, listed by name,
// found by their secret's hash, touched, deleted at once, kept by a reopen,
// and a touch never brings back a deleted token.
func testTokens(t *testing.T, open Opener) {
	d, err := open(true)
	must(t, err)
	if ts, err := d.Tokens(); err != nil || ts == nil || len(ts) != 0 {
		t.Fatalf("Tokens of a new store = %v, %v; want an empty list", ts, err)
	}
	if _, err := d.TokenByHash(cluster.HashToken("nope")); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("TokenByHash in a new store: %v, want ENOTFOUND", err)
	}
	must(t, d.CreateToken(apiToken("ci", cluster.ScopeDeploy, "s-ci", "b.example.com", "a.example.com", "b.example.com")))
	must(t, d.CreateToken(apiToken("audit", cluster.ScopeRead, "s-audit")))
	if err := d.CreateToken(apiToken("ci", cluster.ScopeRead, "s-other")); cluster.ErrorCode(err) != cluster.ECONFLICT {
		t.Fatalf("CreateToken of a taken name: %v, want ECONFLICT", err)
	}
	for _, bad := range []cluster.APIToken{
		apiToken("root", cluster.ScopeAdmin, "x"), apiToken("router", cluster.ScopeRead, "x"),
		apiToken("Upper", cluster.ScopeRead, "x"), apiToken("", cluster.ScopeRead, "x"),
		apiToken("ok", "write", "x"), apiToken("ok", cluster.ScopeDeploy, "x", "not a domain"),
		apiToken("ok", cluster.ScopeAdmin, "x", "a.example.com"), {Name: "ok", Scope: cluster.ScopeRead, Hash: "short"},
	} {
		if err := d.CreateToken(bad); cluster.ErrorCode(err) != cluster.EINVALID {
			t.Fatalf("CreateToken(%+v): %v, want EINVALID", bad, err)
		}
	}
	ts, err := d.Tokens()
	must(t, err)
	if got := tokenNames(ts); got != "audit,ci" {
		t.Fatalf("tokens = %s; want audit,ci", got)
	}
	got, err := d.TokenByHash(cluster.HashToken("s-ci"))
	must(t, err)
	if got.Name != "ci" || got.Scope != cluster.ScopeDeploy || strings.Join(got.Apps, ",") != "a.example.com,b.example.com" || !got.LastUsed.IsZero() {
		t.Fatalf("TokenByHash(ci) = %+v; want ci, deploy, apps a and b sorted once each, never used", got)
	}
	used := time.Date(2026, 1, 3, 4, 5, 6, 0, time.UTC)
	must(t, d.TouchToken("ci", used))
	must(t, d.Close())

	d, err = open(false)
	must(t, err)
	defer d.Close()
	got, err = d.TokenByHash(cluster.HashToken("s-ci"))
	must(t, err)
	if !got.LastUsed.Equal(used) || !got.Created.Equal(apiToken("", "", "").Created) {
		t.Fatalf("after a reopen: %+v; want last used %v", got, used)
	}
	must(t, d.DeleteToken("ci"))
	if _, err := d.TokenByHash(cluster.HashToken("s-ci")); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("TokenByHash of a deleted token: %v, want ENOTFOUND", err)
	}
	if err := d.TouchToken("ci", used); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("TouchToken of a deleted token: %v, want ENOTFOUND", err)
	}
	if err := d.DeleteToken("ci"); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("DeleteToken of a deleted token: %v, want ENOTFOUND", err)
	}
	ts, err = d.Tokens()
	must(t, err)
	if got := tokenNames(ts); got != "audit" {
		t.Fatalf("tokens after a delete = %s; want audit", got)
	}
}
