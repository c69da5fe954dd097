package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

func testRoutingTableVersion(t *testing.T, open Opener) {
	d := mustOpenWithApps(t, open, "a.example.com")
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

func testAllInstancesSeesEveryWrite(t *testing.T, open Opener) {
	d := mustOpenWithApps(t, open, "a.example.com")
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
	const app = "shop.example.com"
	d := mustOpenWithApps(t, open, app)
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
