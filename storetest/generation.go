package storetest

import (
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// testGenerationRisesWithEveryWrite makes each write that changes what GET
// /apps or GET /describe show (the API caches both by the generation),
// and checks that the generation rose by the time the write returned. (On
// etcd the watch raises it again when it delivers the write: a rise is
// all that is asked.)
func testGenerationRisesWithEveryWrite(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	const app = "a.example.com"
	rev := &cluster.Revision{App: app, Image: "img:1", Count: 1, Status: cluster.StatusDeploying}
	inst := cluster.Instance{ID: "x", App: app, Host: "10.0.0.1", Port: 1000}
	for _, w := range []struct {
		name  string
		write func() error
	}{
		{"CreateApp", func() error { _, err := d.CreateApp(app); return err }},
		{"CreateApp of another", func() error { _, err := d.CreateApp("b.example.com"); return err }},
		{"UpdateApp", func() error {
			_, err := d.UpdateApp(app, func(a *cluster.App) error { a.Envs["K"] = "v"; return nil })
			return err
		}},
		{"CreateRevision", func() error { return d.CreateRevision(rev) }},
		{"FinishRevision", func() error {
			_, err := d.FinishRevision(app, rev.Number, cluster.StatusSucceeded, "")
			return err
		}},
		{"PutInstance", func() error { return d.PutInstance(inst) }},
		{"SetRouted", func() error { return d.SetRouted(app, []string{"x"}, true) }},
		{"Retire", func() error { _, err := d.Retire(app, []string{"x"}); return err }},
		{"DeleteInstance", func() error { return d.DeleteInstance(app, "x") }},
		{"RecordOOM", func() error { return d.RecordOOM(app, rev.Number, time.Now()) }},
		{"DeleteApp", func() error { return d.DeleteApp("b.example.com") }},
	} {
		before := d.Generation()
		must(t, w.write())
		if after := d.Generation(); after <= before {
			t.Errorf("%s: generation %d -> %d, want it raised", w.name, before, after)
		}
	}
}
