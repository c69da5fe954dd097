package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// auditAt is an entry at the minute n of a test clock, of app a or b by
// token root or ci in turn.
func auditAt(n int) cluster.AuditEntry {
	app, token := "a.example.com", "root"
	if n%2 == 1 {
		app, token = "b.example.com", "ci"
	}
	return cluster.AuditEntry{Time: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Minute),
		Token: token, Source: "192.0.2.7", Operation: cluster.OpDeploy, App: app,
		Args: map[string]string{"image": fmt.Sprintf("img:%d", n)}, Status: 200, Outcome: cluster.AuditOK}
}

// auditImages lists the entries' image arguments, in order.
func auditImages(entries []cluster.AuditEntry) string {
	return joined(entries, func(e cluster.AuditEntry) string { return e.Args["image"] })
}

// testAudit: entries are listed newest first, filtered by app, token and
// time, limited; each append prunes the oldest beyond keep and those
// older than the age bound, in its own write.
func testAudit(t *testing.T, open Opener) {
	d, err := open(true)
	must(t, err)
	if got, err := d.Audit(cluster.AuditFilter{}); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Audit of a new store = %v, %v; want an empty list", got, err)
	}
	for _, n := range []int{2, 0, 1, 3, 4, 5} { // one out of order: an entry's time is its request's start
		must(t, d.AppendAudit(auditAt(n), 100, 0))
	}
	for _, c := range []struct {
		name string
		f    cluster.AuditFilter
		want string
	}{
		{"all", cluster.AuditFilter{}, "img:5,img:4,img:3,img:2,img:1,img:0"},
		{"app", cluster.AuditFilter{App: "a.example.com"}, "img:4,img:2,img:0"},
		{"token", cluster.AuditFilter{Token: "ci"}, "img:5,img:3,img:1"},
		{"since", cluster.AuditFilter{Since: auditAt(3).Time}, "img:5,img:4,img:3"},
		{"app and since", cluster.AuditFilter{App: "b.example.com", Since: auditAt(2).Time}, "img:5,img:3"},
		{"limit", cluster.AuditFilter{Limit: 2}, "img:5,img:4"},
		{"limit of a filter", cluster.AuditFilter{Token: "root", Limit: 2}, "img:4,img:2"},
		{"none", cluster.AuditFilter{Token: "nobody"}, ""},
	} {
		got, err := d.Audit(c.f)
		must(t, err)
		if auditImages(got) != c.want {
			t.Errorf("Audit(%s) = %s; want %s", c.name, auditImages(got), c.want)
		}
	}
	got, err := d.Audit(cluster.AuditFilter{Limit: 1})
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	if want := auditAt(5); len(got) != 1 || !got[0].Time.Equal(want.Time) || got[0].Token != want.Token || got[0].Source != want.Source ||
		got[0].Operation != want.Operation || got[0].App != want.App || got[0].Status != 200 || got[0].Outcome != cluster.AuditOK {
		t.Fatalf("the newest entry = %+v; want %+v", got, want)
	}

	// By count: the newest 4 stay.
	must(t, d.AppendAudit(auditAt(6), 4, 0))
	got, err = d.Audit(cluster.AuditFilter{})
	must(t, err)
	if auditImages(got) != "img:6,img:5,img:4,img:3" {
		t.Fatalf("after an append keeping 4: %s; want the newest 4", auditImages(got))
	}
	// By age: those more than 2 minutes older than the new entry go.
	must(t, d.AppendAudit(auditAt(7), 100, 2*time.Minute))
	got, err = d.Audit(cluster.AuditFilter{})
	must(t, err)
	if auditImages(got) != "img:7,img:6,img:5" {
		t.Fatalf("after an append keeping 2 minutes: %s; want img:7,img:6,img:5", auditImages(got))
	}
	// Both, after a reopen (the count is not kept across opens).
	must(t, d.Close())
	d = MustOpen(t, open)
	must(t, d.AppendAudit(auditAt(8), 2, time.Hour))
	got, err = d.Audit(cluster.AuditFilter{})
	must(t, err)
	if auditImages(got) != "img:8,img:7" {
		t.Fatalf("after a reopen and an append keeping 2: %s; want img:8,img:7", auditImages(got))
	}
}

// testAuditedWrites: a view made by Audited stores its entry in its first
// write transaction, with that write's change, and only when the write
// succeeds; later writes of the view carry nothing more; the entry is
// pruned by the view's bounds; the view's writes are the store's.
func testAuditedWrites(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	write := func(n, keep int) *cluster.AuditWrite {
		return &cluster.AuditWrite{Entry: func() cluster.AuditEntry { return auditAt(n) }, Keep: keep}
	}
	images := func() string {
		t.Helper()
		got, err := d.Audit(cluster.AuditFilter{})
		must(t, err)
		return auditImages(got)
	}

	w := write(0, 100)
	v := d.Audited(w)
	must(t, v.CreateToken(apiToken("ci", cluster.ScopeDeploy, "lst_ci")))
	if !w.Stored() || images() != "img:0" {
		t.Fatalf("after a write through an audited view: stored %v, entries %q; want the entry stored", w.Stored(), images())
	}
	if _, err := d.TokenByHash(apiToken("ci", cluster.ScopeDeploy, "lst_ci").Hash); err != nil {
		t.Fatalf("the view's write is not in the store: %v", err)
	}
	// Its next writes carry nothing.
	must(t, v.DeleteToken("ci"))
	if images() != "img:0" {
		t.Fatalf("a view's second write stored an entry again: %q", images())
	}

	// A write that fails stores no entry, and its view's next write none.
	w = write(1, 100)
	v = d.Audited(w)
	if err := v.DeleteToken("ci"); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("DeleteToken of a removed token = %v; want ENOTFOUND", err)
	}
	must(t, v.CreateToken(apiToken("ops", cluster.ScopeAdmin, "lst_ops")))
	if w.Stored() || images() != "img:0" {
		t.Fatalf("after a failed write through an audited view: stored %v, entries %q; want none stored", w.Stored(), images())
	}

	// The view's bounds prune as AppendAudit does.
	for n := 2; n <= 4; n++ {
		must(t, d.Audited(write(n, 2)).PutRegistry(cluster.Registry{Address: fmt.Sprintf("r%d.example.com", n), Username: "u", Password: "p"}))
	}
	if images() != "img:4,img:3" {
		t.Fatalf("after audited writes keeping 2: %q; want img:4,img:3", images())
	}
}
