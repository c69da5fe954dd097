package storetest

import (
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// testRecordOOM counts kills for memory on one revision, keeps the latest
// time, and leaves the app and the other revisions alone.
func testRecordOOM(t *testing.T, open Opener) {
	const app = "oom.example.com"
	d := mustOpenWithApps(t, open, app)
	r1 := &cluster.Revision{App: app, Image: "img:1", Count: 2, Port: 80, Memory: 64 << 20, CPUs: 0.5, Status: cluster.StatusDeploying}
	must(t, d.CreateRevision(r1))
	_, err := d.FinishRevision(app, r1.Number, cluster.StatusSucceeded, "")
	must(t, err)
	r2 := &cluster.Revision{App: app, Image: "img:2", Count: 2, Port: 80, Status: cluster.StatusDeploying}
	must(t, d.CreateRevision(r2))
	t1 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, d.RecordOOM(app, r1.Number, t1.Add(time.Minute)))
	must(t, d.RecordOOM(app, r1.Number, t1)) // reported late: the latest time stays
	got, err := d.Revision(app, r1.Number)
	must(t, err)
	if got.OOMKills != 2 || !got.LastOOM.Equal(t1.Add(time.Minute)) || got.Memory != 64<<20 || got.CPUs != 0.5 || got.Status != cluster.StatusSucceeded {
		t.Fatalf("revision 1 = %+v, want 2 kills, the last at %s, its limits and status kept", got, t1.Add(time.Minute))
	}
	if other, _ := d.Revision(app, r2.Number); other.OOMKills != 0 || !other.LastOOM.IsZero() || other.Status != cluster.StatusDeploying {
		t.Fatalf("revision 2 = %+v, want untouched", other)
	}
	if a, _ := d.App(app); a.Revision != r1.Number || a.Memory != 64<<20 {
		t.Fatalf("app = %+v, want revision 1 with its memory limit", a)
	}
	if err := d.RecordOOM(app, 9, t1); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("RecordOOM of revision 9: %v, want ENOTFOUND", err)
	}
}
