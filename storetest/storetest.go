// Package storetest is the conformance suite of cluster.Store: every store
// behaviour the controller relies on, run against the bbolt data file
// (package db) and the etcd prefix (package etcd), so that both behave the
// same. It opens backups with package db, since a backup of any store is a
// data file.
package storetest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
)

// Opener opens one store (the same file or prefix at every call), creating
// its cluster identity only with create.
type Opener func(create bool) (cluster.Store, error)

// RunConformance runs the suite; fresh returns an Opener of a new, empty
// store for each test (a file in t.TempDir(), a new etcd prefix).
func RunConformance(t *testing.T, fresh func(t *testing.T) Opener) {
	for _, c := range []struct {
		name string
		run  func(*testing.T, Opener)
	}{
		{"ReopenKeepsEverything", testReopenKeepsEverything},
		{"MissingNeedsCreate", testMissingNeedsCreate},
		{"CreateChangesNothingOnAnExistingStore", testCreateChangesNothing},
		{"NewerSchemaRefused", testNewerSchemaRefused},
		{"EpochRisesAtEveryOpen", testEpochRisesAtEveryOpen},
		{"SecretsStoredOnce", testSecretsStoredOnce},
		{"RoutingTableVersionRisesOnlyOnChange", testRoutingTableVersion},
		{"FinishRevisionUpdatesAppOnlyOnSuccess", testFinishRevision},
		{"DeleteAppRemovesEverything", testDeleteApp},
		{"CreateRevisionKeepsHistoryLimit", testHistoryLimit},
		{"AllInstancesSeesEveryWrite", testAllInstancesSeesEveryWrite},
		{"RetireIsKept", testRetireIsKept},
		{"Hosts", testHosts},
		{"Registries", testRegistries},
		{"BackupIsADataFile", testBackupIsADataFile},
		{"RecordsRoundTrip", testRecordsRoundTrip},
		{"ConcurrentWriters", testConcurrentWriters},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, fresh(t)) })
	}
}

// MustOpen opens the store with create, closed when the test ends.
func MustOpen(tb testing.TB, open Opener) cluster.Store {
	tb.Helper()
	s, err := open(true)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Must fails the test on err.
func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// SortedRecords returns every record of s sorted by kind, scope and key.
func SortedRecords(tb testing.TB, s cluster.RecordStore) []cluster.Record {
	tb.Helper()
	var recs []cluster.Record
	must(tb, s.Records(func(r cluster.Record) error { recs = append(recs, r); return nil }))
	sort.Slice(recs, func(i, j int) bool {
		a, b := recs[i], recs[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Scope != b.Scope {
			return a.Scope < b.Scope
		}
		if a.Kind == cluster.RecordRevision {
			x, _ := strconv.Atoi(a.Key)
			y, _ := strconv.Atoi(b.Key)
			return x < y
		}
		return a.Key < b.Key
	})
	return recs
}

// DiffRecords describes how two sorted record lists differ, "" when equal.
func DiffRecords(a, b []cluster.Record) string {
	key := func(r cluster.Record) string { return r.Kind + "/" + r.Scope + "/" + r.Key }
	am, bm := map[string][]byte{}, map[string][]byte{}
	for _, r := range a {
		am[key(r)] = r.Value
	}
	for _, r := range b {
		bm[key(r)] = r.Value
	}
	var diffs []string
	for k, v := range am {
		if w, ok := bm[k]; !ok {
			diffs = append(diffs, "only in the first: "+k)
		} else if !bytes.Equal(v, w) {
			diffs = append(diffs, fmt.Sprintf("%s: %q != %q", k, v, w))
		}
	}
	for k := range bm {
		if _, ok := am[k]; !ok {
			diffs = append(diffs, "only in the second: "+k)
		}
	}
	sort.Strings(diffs)
	return strings.Join(diffs, "\n")
}

// Populate fills s with an app of each state, hosts, registries, revisions
// and instances, and the token and routes key, for copy tests.
func Populate(tb testing.TB, s cluster.Store) {
	tb.Helper()
	_, _, err := s.EnsureToken()
	must(tb, err)
	_, _, err = s.EnsureRoutesKey()
	must(tb, err)
	for i := range 3 {
		host := fmt.Sprintf("10.0.0.%d", i+1)
		_, err := s.AddHost(host)
		must(tb, err)
	}
	must(tb, s.SetDraining("10.0.0.3", true))
	must(tb, s.PutRegistry(cluster.Registry{Address: "registry.example.com", Username: "u", Password: "p"}))
	for a := range 5 {
		app := fmt.Sprintf("app%d.example.com", a)
		_, err := s.CreateApp(app)
		must(tb, err)
		_, err = s.UpdateApp(app, func(x *cluster.App) error { x.Envs["N"] = strconv.Itoa(a); return nil })
		must(tb, err)
		for r := range a {
			rev := &cluster.Revision{App: app, Image: fmt.Sprintf("img:%d", r), Count: 2, Port: 3000, Envs: []string{"N=" + strconv.Itoa(a)}, Status: cluster.StatusDeploying}
			must(tb, s.CreateRevision(rev))
			status := cluster.StatusSucceeded
			if r == 1 {
				status = cluster.StatusFailed
			}
			if r < a-1 || a%2 == 0 {
				_, err := s.FinishRevision(app, rev.Number, status, "")
				must(tb, err)
			}
			for k := range 2 {
				must(tb, s.PutInstance(cluster.Instance{ID: fmt.Sprintf("%s-%d-%d", app, r, k), App: app, Revision: rev.Number, Host: fmt.Sprintf("10.0.0.%d", k+1), Port: 30000 + 10*r + k, Routed: k == 0, Started: time.Unix(1700000000, 0).UTC()}))
			}
		}
	}
	_, err = s.RoutingTable()
	must(tb, err)
}

func testReopenKeepsEverything(t *testing.T, open Opener) {
	d, err := open(true)
	must(t, err)
	token, created, err := d.EnsureToken()
	if err != nil || !created || len(token) < 32 {
		t.Fatalf("EnsureToken = %q, %v, %v", token, created, err)
	}
	id := d.ControllerID()
	must(t, errOf(d.CreateApp("shop.example.com")))
	must(t, errOf(d.UpdateApp("shop.example.com", func(a *cluster.App) error { a.Envs["FOO"] = "bar=baz"; return nil })))
	must(t, errOf(d.AddHost("10.0.0.5")))
	rev := &cluster.Revision{App: "shop.example.com", Image: "app:1", Count: 2, Port: 3000, Status: cluster.StatusDeploying}
	if err := d.CreateRevision(rev); err != nil || rev.Number != 1 {
		t.Fatalf("CreateRevision: %v, number %d", err, rev.Number)
	}
	must(t, d.PutInstance(cluster.Instance{ID: "c1", App: "shop.example.com", Revision: 1, Host: "10.0.0.5", Port: 32768, Routed: true}))
	table1, err := d.RoutingTable()
	must(t, err)
	before := SortedRecords(t, d)
	must(t, d.Close())

	d = MustOpen(t, open)
	token2, created, err := d.EnsureToken()
	if err != nil || created || token2 != token {
		t.Fatalf("token after reopen = %q (created %v, %v), want %q", token2, created, err, token)
	}
	if d.ControllerID() != id {
		t.Fatalf("controller id changed: %q -> %q", id, d.ControllerID())
	}
	app, err := d.App("shop.example.com")
	if err != nil || app.Envs["FOO"] != "bar=baz" {
		t.Fatalf("app after reopen = %+v, %v", app, err)
	}
	hosts, _ := d.Hosts()
	if len(hosts) != 1 || hosts[0].Addr != "10.0.0.5" {
		t.Fatalf("hosts after reopen = %+v", hosts)
	}
	revs, _ := d.Revisions("shop.example.com")
	if len(revs) != 1 || revs[0].Image != "app:1" {
		t.Fatalf("revisions after reopen = %+v", revs)
	}
	table2, err := d.RoutingTable()
	if err != nil || table2.Version != table1.Version || !reflect.DeepEqual(table2.Routes, table1.Routes) {
		t.Fatalf("routing table after reopen = %+v, want version %d routes %v", table2, table1.Version, table1.Routes)
	}
	// Only the epoch moved.
	after := SortedRecords(t, d)
	diff := DiffRecords(before, after)
	if lines := strings.Split(diff, "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "meta//epoch:") {
		t.Fatalf("records changed by a reopen other than the epoch:\n%s", diff)
	}
}

func errOf[T any](_ T, err error) error { return err }

func testMissingNeedsCreate(t *testing.T, open Opener) {
	s, err := open(false)
	if err == nil {
		s.Close()
		t.Fatal("open without create of a new store succeeded")
	}
	msg := cluster.ErrorMessage(err)
	if cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("open of a missing store: %v, want ENOTFOUND", err)
	}
	for _, want := range []string{"typo", "longshoreman serve --init", "LONGSHOREMAN_INIT=1"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	// Nothing was created: a second try fails the same way.
	if _, err := open(false); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("second open without create: %v", err)
	}
}

func testCreateChangesNothing(t *testing.T, open Opener) {
	d, err := open(true)
	must(t, err)
	if !d.Created() || len(d.ClusterID()) != 32 || d.ClusterID() == d.ControllerID() {
		t.Fatalf("new store: created %v, cluster %q, controller %q", d.Created(), d.ClusterID(), d.ControllerID())
	}
	clusterID, controller := d.ClusterID(), d.ControllerID()
	d.CreateApp("a.example.com")
	d.Close()
	for _, create := range []bool{true, false} {
		d, err = open(create)
		must(t, err)
		apps, _ := d.Apps()
		if d.Created() || d.ClusterID() != clusterID || d.ControllerID() != controller || len(apps) != 1 {
			t.Fatalf("reopen (create %v): created %v, cluster %q, controller %q, apps %v", create, d.Created(), d.ClusterID(), d.ControllerID(), apps)
		}
		d.Close()
	}
}

func testNewerSchemaRefused(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	must(t, d.PutRecords([]cluster.Record{{Kind: cluster.RecordMeta, Key: "schema", Value: []byte("99")}}))
	d.Close()
	_, err := open(true)
	if err == nil || !strings.Contains(cluster.ErrorMessage(err), "newer") {
		t.Fatalf("open of a newer schema: %v, want a refusal", err)
	}
}

func testEpochRisesAtEveryOpen(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	e1 := d.Epoch()
	if e1 < uint64(time.Now().Add(-time.Minute).UnixNano()) {
		t.Fatalf("epoch %d is not the clock in ns", e1)
	}
	d.CreateApp("a.example.com")
	d.PutInstance(cluster.Instance{ID: "c1", App: "a.example.com", Host: "10.0.0.1", Port: 1, Routed: true})
	t1, _ := d.RoutingTable()
	if t1.Epoch != e1 || t1.Cluster != d.ClusterID() || t1.Controller != d.ControllerID() {
		t.Fatalf("table %+v, epoch %d", t1, e1)
	}
	d.Close()
	d = MustOpen(t, open)
	t2, _ := d.RoutingTable()
	if d.Epoch() <= e1 || t2.Epoch != d.Epoch() || t2.Version != t1.Version || !t2.Newer(t1) {
		t.Fatalf("after reopen: epoch %d (was %d), table %d.%d (was %d.%d)", d.Epoch(), e1, t2.Epoch, t2.Version, t1.Epoch, t1.Version)
	}
	// A stored epoch ahead of the clock (the clock was set back): +1.
	ahead := uint64(time.Now().Add(time.Hour).UnixNano())
	must(t, d.PutRecords([]cluster.Record{{Kind: cluster.RecordMeta, Key: "epoch", Value: []byte(strconv.FormatUint(ahead, 10))}}))
	d.Close()
	if d = MustOpen(t, open); d.Epoch() != ahead+1 {
		t.Fatalf("epoch %d after stored %d", d.Epoch(), ahead)
	}
}

func testSecretsStoredOnce(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	if k, _ := d.RoutesKey(); k != "" {
		t.Fatalf("routes key before EnsureRoutesKey: %q", k)
	}
	if tok, _ := d.Token(); tok != "" {
		t.Fatalf("token before EnsureToken: %q", tok)
	}
	k1, created, err := d.EnsureRoutesKey()
	if err != nil || !created || len(k1) != 64 {
		t.Fatalf("EnsureRoutesKey = %q, %v, %v", k1, created, err)
	}
	tok1, created, err := d.EnsureToken()
	if err != nil || !created || len(tok1) != 48 {
		t.Fatalf("EnsureToken = %q, %v, %v", tok1, created, err)
	}
	d.Close()
	d = MustOpen(t, open)
	if k2, created, _ := d.EnsureRoutesKey(); k2 != k1 || created {
		t.Fatalf("after reopen: %q, %v", k2, created)
	}
	if tok2, _ := d.Token(); tok2 != tok1 {
		t.Fatalf("token after reopen: %q, want %q", tok2, tok1)
	}
}

func testRoutingTableVersion(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	d.CreateApp("a.example.com")
	t0, _ := d.RoutingTable()
	t1, _ := d.RoutingTable()
	if t1.Version != t0.Version || t0.Version == 0 {
		t.Fatalf("version moved without a change, or is 0: %d -> %d", t0.Version, t1.Version)
	}
	if len(t0.Routes) != 0 || t0.Routes == nil {
		t.Fatalf("empty table routes = %#v, want an empty non-nil map", t0.Routes)
	}
	d.PutInstance(cluster.Instance{ID: "x", App: "a.example.com", Host: "10.0.0.1", Port: 1000})
	if t2, _ := d.RoutingTable(); t2.Version != t0.Version {
		t.Fatalf("an unrouted instance changed the version: %d -> %d", t0.Version, t2.Version)
	}
	d.SetRouted("a.example.com", []string{"x"}, true)
	t3, _ := d.RoutingTable()
	if t3.Version != t0.Version+1 || !reflect.DeepEqual(t3.Routes, map[string][]string{"a.example.com": {"10.0.0.1:1000"}}) {
		t.Fatalf("after routing: %+v (was version %d)", t3, t0.Version)
	}
	d.DeleteInstance("a.example.com", "x")
	if t4, _ := d.RoutingTable(); t4.Version != t3.Version+1 || len(t4.Routes) != 0 {
		t.Fatalf("after delete: %+v", t4)
	}
}

func testFinishRevision(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	d.CreateApp("a.example.com")
	ok := &cluster.Revision{App: "a.example.com", Image: "img:1", Envs: []string{"A=1", "B=x=y"}, Count: 3, Port: 8080, Status: cluster.StatusDeploying}
	must(t, d.CreateRevision(ok))
	if dep, _ := d.Deploying(); len(dep) != 1 || dep[0].Number != ok.Number {
		t.Fatalf("Deploying = %+v, want revision %d", dep, ok.Number)
	}
	if _, err := d.FinishRevision("a.example.com", ok.Number, cluster.StatusSucceeded, ""); err != nil {
		t.Fatal(err)
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

// testDeleteApp deletes an app with more revisions and instances than one
// etcd Txn could delete key by key.
func testDeleteApp(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	d.SetHistory(500)
	d.CreateApp("a.example.com")
	d.CreateApp("b.example.com")
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
	d := MustOpen(t, open)
	d.SetHistory(10)
	const app = "a.example.com"
	must(t, errOf(d.CreateApp(app)))
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

func testAllInstancesSeesEveryWrite(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	d.CreateApp("a.example.com")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					d.AllInstances()
				}
			}
		})
	}
	const n = 100
	for i := range n {
		id := fmt.Sprint("c", i)
		must(t, d.PutInstance(cluster.Instance{ID: id, App: "a.example.com", Host: "10.0.0.1", Port: 1000 + i}))
		if all, _ := d.AllInstances(); len(all) != i+1 {
			t.Fatalf("after put %d: %d instances", i, len(all))
		}
		must(t, d.SetRouted("a.example.com", []string{id}, true))
		all, _ := d.AllInstances()
		for _, inst := range all {
			if inst.ID == id && !inst.Routed {
				t.Fatalf("routed flag not seen after SetRouted %d", i)
			}
		}
	}
	d.DeleteInstance("a.example.com", "c0")
	if all, _ := d.AllInstances(); len(all) != n-1 {
		t.Fatalf("after delete: %d", len(all))
	}
	if insts, _ := d.Instances("a.example.com"); len(insts) != n-1 || insts[0].Port != 1001 {
		t.Fatalf("Instances after delete: %d, first %+v", len(insts), insts[0])
	}
	d.DeleteApp("a.example.com")
	if all, _ := d.AllInstances(); len(all) != 0 {
		t.Fatalf("after app delete: %d", len(all))
	}
	if _, err := d.Instances("a.example.com"); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("Instances of a deleted app: %v", err)
	}
	if err := d.PutInstance(cluster.Instance{ID: "x", App: "a.example.com"}); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("PutInstance of a deleted app: %v", err)
	}
	close(stop)
	wg.Wait()
}

func testRetireIsKept(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	const app = "shop.example.com"
	must(t, errOf(d.CreateApp(app)))
	for i, id := range []string{"old1", "old2", "new1"} {
		must(t, d.PutInstance(cluster.Instance{ID: id, App: app, Revision: 1, Host: "10.0.0.5", Port: 30000 + i, Routed: true, Started: time.Now().UTC().Round(0)}))
	}
	before, err := d.RoutingTable()
	must(t, err)
	version, err := d.Retire(app, []string{"old1", "old2", "unknown"})
	must(t, err)
	after, err := d.RoutingTable()
	must(t, err)
	if version <= before.Version || after.Version != version {
		t.Fatalf("Retire returned version %d; the table was %d before and is %d now", version, before.Version, after.Version)
	}
	if got := after.Routes[app]; !slices.Equal(got, []string{"10.0.0.5:30002"}) {
		t.Fatalf("routes after Retire = %v, want only new1's", got)
	}
	d.Close()

	d = MustOpen(t, open)
	insts, err := d.Instances(app)
	must(t, err)
	for _, i := range insts {
		retiring := i.ID != "new1"
		if i.Retiring != retiring || i.Routed == retiring || (retiring && i.RetireAfter != version) || (!retiring && i.RetireAfter != 0) {
			t.Errorf("after reopening: %+v", i)
		}
	}
	all, _ := d.AllInstances()
	if !slices.EqualFunc(all, insts, func(a, b cluster.Instance) bool {
		return a.ID == b.ID && a.Started.Equal(b.Started) && a.Routed == b.Routed
	}) {
		t.Errorf("AllInstances %+v differs from Instances %+v", all, insts)
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

// testBackupIsADataFile takes backups while another goroutine writes and
// opens the last one as a data file: same ids, every app readable.
func testBackupIsADataFile(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	Populate(t, d)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			d.CreateApp(fmt.Sprintf("w%d.example.com", i))
		}
	})
	var buf bytes.Buffer
	for range 3 {
		buf.Reset()
		must(t, errOf(d.WriteTo(&buf)))
	}
	close(stop)
	wg.Wait()
	path := filepath.Join(t.TempDir(), "copy.db")
	must(t, os.WriteFile(path, buf.Bytes(), 0o600))
	c, err := db.Open(path, db.Options{})
	must(t, err)
	defer c.Close()
	apps, err := c.Apps()
	must(t, err)
	for _, a := range apps {
		must(t, errOf(c.App(a)))
	}
	if len(apps) < 5 || c.ControllerID() != d.ControllerID() || c.ClusterID() != d.ClusterID() {
		t.Fatalf("backup: %d apps, controller %s cluster %s; want >= 5, %s, %s", len(apps), c.ControllerID(), c.ClusterID(), d.ControllerID(), d.ClusterID())
	}
	if tok, _ := c.Token(); tok == "" {
		t.Fatal("backup has no token")
	}
	insts, _ := c.Instances("app4.example.com")
	want, _ := d.Instances("app4.example.com")
	if len(insts) != 8 || !slices.EqualFunc(insts, want, func(a, b cluster.Instance) bool { return a == b }) {
		t.Fatalf("backup instances %+v, want %+v", insts, want)
	}
}

// testRecordsRoundTrip copies every record into a new store and back.
func testRecordsRoundTrip(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	Populate(t, d)
	recs := SortedRecords(t, d)
	if len(recs) < 30 {
		t.Fatalf("only %d records", len(recs))
	}
	// Overwrite every record with itself and delete one: the store holds
	// exactly what PutRecords wrote.
	for i := 0; i < len(recs); i += cluster.RecordBatch {
		must(t, d.PutRecords(recs[i:min(i+cluster.RecordBatch, len(recs))]))
	}
	if diff := DiffRecords(recs, SortedRecords(t, d)); diff != "" {
		t.Fatalf("records changed by writing them back:\n%s", diff)
	}
	gone := cluster.Record{Kind: cluster.RecordInstance, Scope: "app4.example.com", Key: "app4.example.com-0-0"}
	must(t, d.PutRecords([]cluster.Record{gone}))
	insts, _ := d.Instances("app4.example.com")
	if len(insts) != 7 || slices.ContainsFunc(insts, func(i cluster.Instance) bool { return i.ID == gone.Key }) {
		t.Fatalf("instances after deleting one by record: %+v", insts)
	}
}

// testConcurrentWriters runs writers in parallel on one app: revision
// numbers stay unique and gapless, no update of the app is lost, and every
// instance is kept.
func testConcurrentWriters(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	d.SetHistory(1000)
	const app = "a.example.com"
	must(t, errOf(d.CreateApp(app)))
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
