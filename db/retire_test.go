package db_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
)

// Retire unroutes and marks instances with the version of the first table
// without them, and the mark survives a reopen of the file.
func TestRetireIsKeptInTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ls.db")
	d, err := db.Open(path, db.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	const app = "shop.example.com"
	if _, err := d.CreateApp(app); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"old1", "old2", "new1"} {
		if err := d.PutInstance(cluster.Instance{ID: id, App: app, Revision: 1, Host: "10.0.0.5", Port: 30000 + i, Routed: true, Started: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	before, err := d.RoutingTable()
	if err != nil {
		t.Fatal(err)
	}
	version, err := d.Retire(app, []string{"old1", "old2", "unknown"})
	if err != nil {
		t.Fatal(err)
	}
	after, err := d.RoutingTable()
	if err != nil {
		t.Fatal(err)
	}
	if version <= before.Version || after.Version != version {
		t.Fatalf("Retire returned version %d; the table was %d before and is %d now", version, before.Version, after.Version)
	}
	if got := after.Routes[app]; !slices.Equal(got, []string{"10.0.0.5:30002"}) {
		t.Fatalf("routes after Retire = %v, want only new1's", got)
	}
	d.Close()

	d = MustOpenPath(t, path)
	insts, err := d.Instances(app)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range insts {
		retiring := i.ID != "new1"
		if i.Retiring != retiring || i.Routed == retiring || (retiring && i.RetireAfter != version) || (!retiring && i.RetireAfter != 0) {
			t.Errorf("after reopening: %+v", i)
		}
	}
	// The in-memory copy agrees with the file.
	all, _ := d.AllInstances()
	if !slices.EqualFunc(all, insts, func(a, b cluster.Instance) bool { return a == b }) {
		t.Errorf("AllInstances %+v differs from Instances %+v", all, insts)
	}
}

func TestSetDraining(t *testing.T) {
	d := MustOpenDB(t)
	if _, err := d.AddHost("10.0.0.5"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddHost("10.0.0.6"); err != nil {
		t.Fatal(err)
	}
	if err := d.SetDraining("10.0.0.5", true); err != nil {
		t.Fatal(err)
	}
	hosts, _ := d.Hosts()
	if len(hosts) != 2 || !hosts[0].Draining || hosts[1].Draining || hosts[0].Added.IsZero() {
		t.Fatalf("hosts = %+v, want 10.0.0.5 draining", hosts)
	}
	if err := d.SetDraining("10.0.0.5", false); err != nil {
		t.Fatal(err)
	}
	if hosts, _ := d.Hosts(); hosts[0].Draining {
		t.Fatalf("still draining: %+v", hosts[0])
	}
	if err := d.SetDraining("10.0.0.9", true); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("SetDraining of an unknown host: %v, want ENOTFOUND", err)
	}
}
