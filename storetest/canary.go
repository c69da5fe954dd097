package storetest

import (
	"reflect"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
)

// testTableCarriesCanary: an app's canary moves its routed instances from
// the app's routes to the table's canary entry, with its weight and the
// canary format, raising the version; a canary being promoted, or none,
// routes every instance in routes and leaves the format out.
func testTableCarriesCanary(t *testing.T, open Opener) {
	const app = "a.example.com"
	d := mustOpenWithApps(t, open, app)
	for i, rev := range []int{1, 1, 2} {
		must(t, d.PutInstance(cluster.Instance{ID: string(rune('x' + i)), App: app, Revision: rev, Host: "10.0.0.1", Port: 1000 + i}))
	}
	must(t, d.SetRouted(app, []string{"x", "y", "z"}, true))
	table := func() cluster.RoutingTable {
		tb, err := d.RoutingTable()
		must(t, err)
		return tb
	}
	setCanary := func(c *cluster.AppCanary) {
		_, err := d.UpdateApp(app, func(a *cluster.App) error { a.Canary = c; return nil })
		must(t, err)
	}
	all := map[string][]string{app: {"10.0.0.1:1000", "10.0.0.1:1001", "10.0.0.1:1002"}}
	t0 := table()
	if !reflect.DeepEqual(t0.Routes, all) || t0.Canary != nil || t0.Format != 0 {
		t.Fatalf("without a canary: %+v", t0)
	}
	setCanary(&cluster.AppCanary{Revision: 2, Weight: 20, Count: 1})
	t1 := table()
	want := map[string]cluster.CanaryRoute{app: {Revision: 2, Weight: 20, Routes: []string{"10.0.0.1:1002"}}}
	if t1.Version <= t0.Version || t1.Format != cluster.TableFormatCanary || !reflect.DeepEqual(t1.Canary, want) ||
		!reflect.DeepEqual(t1.Routes, map[string][]string{app: {"10.0.0.1:1000", "10.0.0.1:1001"}}) {
		t.Fatalf("with a canary: %+v (before: version %d)", t1, t0.Version)
	}
	if again := table(); again.Version != t1.Version {
		t.Fatalf("version moved from %d to %d with no change", t1.Version, again.Version)
	}
	must(t, d.SetRouted(app, []string{"z"}, false))
	want[app] = cluster.CanaryRoute{Revision: 2, Weight: 20, Routes: []string{}}
	if t2 := table(); t2.Version <= t1.Version || !reflect.DeepEqual(t2.Canary, want) || t2.Format != cluster.TableFormatCanary {
		t.Fatalf("canary unrouted: %+v", t2)
	}
	must(t, d.SetRouted(app, []string{"z"}, true))
	setCanary(&cluster.AppCanary{Revision: 2, Weight: 20, Count: 1, Promoting: true})
	if t3 := table(); !reflect.DeepEqual(t3.Routes, all) || t3.Canary != nil || t3.Format != 0 {
		t.Fatalf("canary being promoted: %+v", t3)
	}
	setCanary(nil)
	if t4 := table(); !reflect.DeepEqual(t4.Routes, all) || t4.Canary != nil || t4.Format != 0 {
		t.Fatalf("canary gone: %+v", t4)
	}
}
