package storetest

import (
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// testTableCarriesLimits: the routing table carries the apps' limits at
// the edge with the burst that applies, its version rises when they change
// and only then, and an app without limits, or deleted, leaves it.
func testTableCarriesLimits(t *testing.T, open Opener) {
	d := mustOpenWithApps(t, open, "l.example.com")
	set := func(edit func(a *cluster.App)) {
		t.Helper()
		must(t, errOf(d.UpdateApp("l.example.com", func(a *cluster.App) error { edit(a); return nil })))
	}
	last, err := d.RoutingTable()
	must(t, err)
	rate := cluster.Rate{N: 10, Per: time.Second}
	for _, step := range []struct {
		what string
		edit func(a *cluster.App)
		want *cluster.LimitRoute // nil: the app is not in the table's limits
	}{
		{"rate limit set", func(a *cluster.App) { a.RateLimit = rate }, &cluster.LimitRoute{Rate: rate, Burst: 10}},
		{"burst set", func(a *cluster.App) { a.Burst = 20 }, &cluster.LimitRoute{Rate: rate, Burst: 20}},
		{"body limit set", func(a *cluster.App) { a.MaxBody = 1 << 20 }, &cluster.LimitRoute{Rate: rate, Burst: 20, MaxBody: 1 << 20}},
		{"rate limit removed", func(a *cluster.App) { a.RateLimit, a.Burst = cluster.Rate{}, 0 }, &cluster.LimitRoute{MaxBody: 1 << 20}},
		{"body limit removed", func(a *cluster.App) { a.MaxBody = 0 }, nil},
	} {
		set(step.edit)
		tb, err := d.RoutingTable()
		must(t, err)
		got, ok := tb.Limits["l.example.com"]
		if tb.Version <= last.Version || ok != (step.want != nil) || ok && got != *step.want {
			t.Fatalf("%s: version %d (before %d), limits %+v; want %+v", step.what, tb.Version, last.Version, tb.Limits, step.want)
		}
		if again, _ := d.RoutingTable(); again.Version != tb.Version {
			t.Fatalf("%s: version moved from %d to %d with no change", step.what, tb.Version, again.Version)
		}
		last = tb
	}
	set(func(a *cluster.App) { a.MaxBody = 512 })
	must(t, d.DeleteApp("l.example.com"))
	if tb, _ := d.RoutingTable(); tb.Limits != nil {
		t.Fatalf("limits of a deleted app: %+v", tb.Limits)
	}
}
