package storetest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

func testFinishRevision(t *testing.T, open Opener) {
	d := mustOpenWithApps(t, open, "a.example.com")
	ok := &cluster.Revision{App: "a.example.com", Image: "img:1", Envs: []string{"A=1", "B=x=y"}, Count: 3, Port: 8080, Status: cluster.StatusDeploying}
	must(t, d.CreateRevision(ok))
	if dep, _ := d.Deploying(); len(dep) != 1 || dep[0].Number != ok.Number {
		t.Fatalf("Deploying = %+v, want revision %d", dep, ok.Number)
	}
	before := time.Now().Add(-time.Second)
	if _, err := d.FinishRevision("a.example.com", ok.Number, cluster.StatusSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	if r, _ := d.Revision("a.example.com", ok.Number); r.Finished.Before(before) || r.Finished.After(time.Now().Add(time.Second)) {
		t.Fatalf("revision 1 finished at %v, want about now", r.Finished)
	}
	bad := &cluster.Revision{App: "a.example.com", Image: "img:2", Count: 1, Port: 80, Status: cluster.StatusDeploying}
	d.CreateRevision(bad)
	d.FinishRevision("a.example.com", bad.Number, cluster.StatusFailed, "health check failed")
	app, _ := d.App("a.example.com")
	if app.Image != "img:1" || app.Count != 3 || app.Port != 8080 || app.Revision != 1 || app.Envs["B"] != "x=y" {
		t.Fatalf("app = %+v, want revision 1's settings", app)
	}
	revs, _ := d.Revisions("a.example.com")
	if len(revs) != 2 || revs[0].Number != 2 || revs[0].Status != cluster.StatusFailed || revs[0].Reason != "health check failed" {
		t.Fatalf("revisions = %+v", revs)
	}
	if r, err := d.Revision("a.example.com", 1); err != nil || r.Image != "img:1" {
		t.Fatalf("Revision 1 = %+v, %v", r, err)
	}
	if _, err := d.Revision("a.example.com", 9); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("Revision 9: %v, want ENOTFOUND", err)
	}
	if _, err := d.FinishRevision("a.example.com", 9, cluster.StatusFailed, ""); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("FinishRevision 9: %v, want ENOTFOUND", err)
	}
	if dep, _ := d.Deploying(); len(dep) != 0 {
		t.Fatalf("Deploying = %+v, want none", dep)
	}
	if err := d.CreateRevision(&cluster.Revision{App: "nope.example.com"}); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("CreateRevision of an unknown app: %v", err)
	}
}

// testAppSettingsKept: an app's settings are kept by a deploy that
// succeeds (a revision does not hold them) and by a reopen, and a zero
// stop timeout or drain stays set (zero), apart from unset (nil).
func testAppSettingsKept(t *testing.T, open Opener) {
	d, err := open(true)
	must(t, err)
	must(t, errOf(d.CreateApp("s.example.com")))
	zero, five := cluster.Duration(0), cluster.Duration(5*time.Second)
	must(t, errOf(d.UpdateApp("s.example.com", func(a *cluster.App) error {
		a.Batch, a.StopTimeout, a.Drain = 2, &zero, &five
		return nil
	})))
	rev := &cluster.Revision{App: "s.example.com", Image: "app:1", Count: 4, Port: 3000, Status: cluster.StatusDeploying}
	must(t, d.CreateRevision(rev))
	must(t, errOf(d.FinishRevision("s.example.com", rev.Number, cluster.StatusSucceeded, "")))
	check := func(when string, a *cluster.App) {
		t.Helper()
		if a.Batch != 2 || a.StopTimeout == nil || *a.StopTimeout != 0 || a.Drain == nil || a.Drain.D() != 5*time.Second || a.Count != 4 {
			t.Fatalf("%s: batch %d, stop timeout %v, drain %v, count %d; want 2, 0s, 5s, 4", when, a.Batch, a.StopTimeout, a.Drain, a.Count)
		}
	}
	a, err := d.App("s.example.com")
	must(t, err)
	check("after a deploy", a)
	must(t, d.Close())
	d, err = open(false)
	must(t, err)
	defer d.Close()
	a, err = d.App("s.example.com")
	must(t, err)
	check("after a reopen", a)
	all, err := d.AllApps()
	must(t, err)
	check("in AllApps", all[0])
}

// testDeleteApp deletes an app with more revisions and instances than one
// etcd Txn could delete key by key.
func testDeleteApp(t *testing.T, open Opener) {
	d := mustOpenWithApps(t, open, "a.example.com", "b.example.com")
	d.SetHistory(500)
	for range 150 {
		must(t, d.CreateRevision(&cluster.Revision{App: "a.example.com", Image: "i:1", Status: cluster.StatusFailed}))
	}
	for i := range 150 {
		must(t, d.PutInstance(cluster.Instance{ID: fmt.Sprint("c", i), App: "a.example.com", Host: "10.0.0.1", Port: 1 + i, Routed: true}))
	}
	d.PutInstance(cluster.Instance{ID: "b", App: "b.example.com", Host: "10.0.0.1", Port: 9999, Routed: true})
	must(t, d.DeleteApp("a.example.com"))
	if _, err := d.App("a.example.com"); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("App after delete: %v, want ENOTFOUND", err)
	}
	if all, _ := d.AllInstances(); len(all) != 1 || all[0].App != "b.example.com" {
		t.Fatalf("instances left: %+v", all)
	}
	for _, r := range SortedRecords(t, d) {
		if r.Scope == "a.example.com" || (r.Kind == cluster.RecordApp && r.Key == "a.example.com") {
			t.Fatalf("record left of the deleted app: %+v", r)
		}
	}
	// A new app of the same name starts from revision 1.
	d.CreateApp("a.example.com")
	rev := &cluster.Revision{App: "a.example.com"}
	d.CreateRevision(rev)
	if rev.Number != 1 {
		t.Fatalf("revision after re-create = %d, want 1", rev.Number)
	}
	if err := d.DeleteApp("nope.example.com"); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("DeleteApp unknown: %v", err)
	}
}

func testHistoryLimit(t *testing.T, open Opener) {
	const app = "a.example.com"
	d := mustOpenWithApps(t, open, app)
	d.SetHistory(10)
	envs := []string{"BIG=" + strings.Repeat("x", cluster.MaxEnvValueLength)}
	deploy := func(status string) int {
		rev := &cluster.Revision{App: app, Image: "img:1", Envs: envs, Count: 1, Status: cluster.StatusDeploying}
		must(t, d.CreateRevision(rev))
		must(t, errOf(d.FinishRevision(app, rev.Number, status, "")))
		return rev.Number
	}
	var succeeded []int
	for range 4 {
		succeeded = append(succeeded, deploy(cluster.StatusSucceeded))
		for range 15 {
			deploy(cluster.StatusFailed)
		}
	}
	revs, err := d.Revisions(app)
	must(t, err)
	if len(revs) != 10 {
		t.Fatalf("%d revisions kept, want 10", len(revs))
	}
	kept := map[int]string{}
	for _, r := range revs {
		kept[r.Number] = r.Status
	}
	for _, n := range succeeded {
		if kept[n] != cluster.StatusSucceeded {
			t.Errorf("succeeded revision %d was deleted while failed ones were kept: %v", n, kept)
		}
	}
	if a, _ := d.App(app); kept[a.Revision] == "" {
		t.Errorf("the current revision %d was deleted", a.Revision)
	}
	if revs[0].Number != 4*16 {
		t.Errorf("newest kept = %d, want %d", revs[0].Number, 4*16)
	}
}

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

func testHosts(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	for _, h := range []string{"10.0.0.6", "10.0.0.5"} {
		if created, err := d.AddHost(h); err != nil || !created {
			t.Fatalf("AddHost %s = %v, %v", h, created, err)
		}
	}
	if created, err := d.AddHost("10.0.0.5"); err != nil || created {
		t.Fatalf("AddHost of a known host = %v, %v", created, err)
	}
	must(t, d.SetDraining("10.0.0.5", true))
	hosts, _ := d.Hosts()
	if len(hosts) != 2 || hosts[0].Addr != "10.0.0.5" || !hosts[0].Draining || hosts[1].Draining || hosts[0].Added.IsZero() {
		t.Fatalf("hosts = %+v, want 10.0.0.5 draining first", hosts)
	}
	must(t, d.SetDraining("10.0.0.5", false))
	if hosts, _ := d.Hosts(); hosts[0].Draining {
		t.Fatalf("still draining: %+v", hosts[0])
	}
	if err := d.SetDraining("10.0.0.9", true); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("SetDraining of an unknown host: %v, want ENOTFOUND", err)
	}
	must(t, d.RemoveHost("10.0.0.6"))
	if ok, _ := d.HasHost("10.0.0.6"); ok {
		t.Fatal("HasHost after RemoveHost")
	}
	if ok, _ := d.HasHost("10.0.0.5"); !ok {
		t.Fatal("HasHost of a known host = false")
	}
	if err := d.RemoveHost("10.0.0.6"); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("RemoveHost of an unknown host: %v", err)
	}
}

func testRegistries(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	if regs, _ := d.Registries(); len(regs) != 0 || regs == nil {
		t.Fatalf("registries of a new store = %#v", regs)
	}
	must(t, d.PutRegistry(cluster.Registry{Address: "r2.example.com:5000", Username: "a", Password: "b"}))
	must(t, d.PutRegistry(cluster.Registry{Address: "r1.example.com", Username: "c", Password: "d"}))
	must(t, d.PutRegistry(cluster.Registry{Address: "r1.example.com", Username: "e", Password: "f"}))
	if regs, _ := d.Registries(); !slices.Equal(regs, []string{"r1.example.com", "r2.example.com:5000"}) {
		t.Fatalf("registries = %v", regs)
	}
	if u, p, ok := d.RegistryAuth("r1.example.com"); u != "e" || p != "f" || !ok {
		t.Fatalf("RegistryAuth = %q %q %v", u, p, ok)
	}
	must(t, d.DeleteRegistry("r1.example.com"))
	if _, _, ok := d.RegistryAuth("r1.example.com"); ok {
		t.Fatal("credentials left after DeleteRegistry")
	}
	if err := d.DeleteRegistry("r1.example.com"); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("DeleteRegistry of an unknown registry: %v", err)
	}
}

// testConcurrentWriters runs writers in parallel on one app: revision
// numbers stay unique and gapless, no update of the app is lost, and every
// instance is kept.
func testConcurrentWriters(t *testing.T, open Opener) {
	const app = "a.example.com"
	d := mustOpenWithApps(t, open, app)
	d.SetHistory(1000)
	const writers, each = 6, 8
	var mu sync.Mutex
	numbers := map[int]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, writers*each*3)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				rev := &cluster.Revision{App: app, Image: "img:1", Status: cluster.StatusDeploying}
				if err := d.CreateRevision(rev); err != nil {
					errs <- err
					continue
				}
				mu.Lock()
				if numbers[rev.Number] {
					errs <- fmt.Errorf("revision number %d given twice", rev.Number)
				}
				numbers[rev.Number] = true
				mu.Unlock()
				if _, err := d.UpdateApp(app, func(a *cluster.App) error {
					n, _ := strconv.Atoi(a.Envs["N"])
					a.Envs["N"] = strconv.Itoa(n + 1)
					return nil
				}); err != nil {
					errs <- err
				}
				if err := d.PutInstance(cluster.Instance{ID: fmt.Sprintf("w%d-%d", w, i), App: app, Host: "10.0.0.1", Port: 1000*w + i, Routed: true}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	revs, _ := d.Revisions(app)
	if len(revs) != writers*each || revs[0].Number != writers*each {
		t.Fatalf("%d revisions, newest %d; want %d", len(revs), revs[0].Number, writers*each)
	}
	if a, _ := d.App(app); a.Envs["N"] != strconv.Itoa(writers*each) {
		t.Fatalf("counter = %s, want %d: an update was lost", a.Envs["N"], writers*each)
	}
	insts, _ := d.Instances(app)
	table, _ := d.RoutingTable()
	if len(insts) != writers*each || len(table.Routes[app]) != writers*each {
		t.Fatalf("%d instances, %d routes; want %d", len(insts), len(table.Routes[app]), writers*each)
	}
}
