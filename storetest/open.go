package storetest

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

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

// testUnfinishedMigrationRefused: a store holding the marker a migrate
// writes first and removes last (a copy cut short) is refused by every
// open, with or without create, naming `migrate --force` and the migrate
// that left it. A store made by create never holds the marker. (Opening
// it as a migrate target, which completes the copy, is the migrate
// command's, tested with it.)
func testUnfinishedMigrationRefused(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	found := false
	must(t, d.Records(func(r cluster.Record) error {
		found = found || (r.Kind == cluster.RecordMeta && r.Key == cluster.MetaMigrating)
		return nil
	}))
	if found {
		t.Fatal("a store made by create holds the migrate marker")
	}
	d.CreateApp("a.example.com")
	must(t, d.PutRecords([]cluster.Record{{Kind: cluster.RecordMeta, Key: cluster.MetaMigrating, Value: []byte("from old.db at 2026-01-02T03:04:05Z")}}))
	d.Close()
	for _, create := range []bool{false, true} {
		s, err := open(create)
		if err == nil {
			s.Close()
			t.Fatalf("open (create %v) of a half-written migrate target succeeded", create)
		}
		msg := cluster.ErrorMessage(err)
		if cluster.ErrorCode(err) != cluster.EINVALID || !strings.Contains(msg, "migrate --force") || !strings.Contains(msg, "from old.db at 2026-01-02T03:04:05Z") {
			t.Fatalf("open (create %v) of a half-written migrate target: %v; want EINVALID naming migrate --force and the migrate", create, err)
		}
	}
}
