package db_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
)

// MustOpenDB opens a new data file in a temp dir, closed when the test ends.
func MustOpenDB(tb testing.TB) *db.DB {
	tb.Helper()
	return MustOpenPath(tb, filepath.Join(tb.TempDir(), "longshoreman.db"))
}

// MustOpenPath opens the data file at path, closed when the test ends.
func MustOpenPath(tb testing.TB, path string) *db.DB {
	tb.Helper()
	d, err := db.Open(path, db.Options{Create: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}

func TestReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ls.db")
	d, err := db.Open(path, db.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	token, created, err := d.EnsureToken()
	if err != nil || !created || len(token) < 32 {
		t.Fatalf("EnsureToken = %q, %v, %v", token, created, err)
	}
	id := d.ControllerID()
	if _, err := d.CreateApp("shop.example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.UpdateApp("shop.example.com", func(a *cluster.App) error { a.Envs["FOO"] = "bar=baz"; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddHost("10.0.0.5"); err != nil {
		t.Fatal(err)
	}
	rev := &cluster.Revision{App: "shop.example.com", Image: "app:1", Count: 2, Port: 3000, Status: cluster.StatusDeploying}
	if err := d.CreateRevision(rev); err != nil || rev.Number != 1 {
		t.Fatalf("CreateRevision: %v, number %d", err, rev.Number)
	}
	if err := d.PutInstance(cluster.Instance{ID: "c1", App: "shop.example.com", Revision: 1, Host: "10.0.0.5", Port: 32768, Routed: true}); err != nil {
		t.Fatal(err)
	}
	table1, err := d.RoutingTable()
	if err != nil {
		t.Fatal(err)
	}
	d.Close()

	d = MustOpenPath(t, path)
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
}

func TestRoutingTableVersionRisesOnlyOnChange(t *testing.T) {
	d := MustOpenDB(t)
	d.CreateApp("a.example.com")
	t0, _ := d.RoutingTable()
	t1, _ := d.RoutingTable()
	if t1.Version != t0.Version {
		t.Fatalf("version moved without a change: %d -> %d", t0.Version, t1.Version)
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

func TestFinishRevisionUpdatesAppOnlyOnSuccess(t *testing.T) {
	d := MustOpenDB(t)
	d.CreateApp("a.example.com")
	ok := &cluster.Revision{App: "a.example.com", Image: "img:1", Envs: []string{"A=1", "B=x=y"}, Count: 3, Port: 8080, Status: cluster.StatusDeploying}
	d.CreateRevision(ok)
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
	if dep, _ := d.Deploying(); len(dep) != 0 {
		t.Fatalf("Deploying = %+v, want none", dep)
	}
}

func TestDeleteAppRemovesEverything(t *testing.T) {
	d := MustOpenDB(t)
	d.CreateApp("a.example.com")
	d.CreateRevision(&cluster.Revision{App: "a.example.com", Image: "i:1"})
	d.PutInstance(cluster.Instance{ID: "c", App: "a.example.com", Host: "10.0.0.1", Port: 1, Routed: true})
	if err := d.DeleteApp("a.example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.App("a.example.com"); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("App after delete: %v, want ENOTFOUND", err)
	}
	if all, _ := d.AllInstances(); len(all) != 0 {
		t.Fatalf("instances left: %+v", all)
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

func TestSecondOpenFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ls.db")
	MustOpenPath(t, path)
	_, err := db.Open(path, db.Options{Timeout: 100_000_000})
	if cluster.ErrorCode(err) != cluster.ECONFLICT || !bytes.Contains([]byte(cluster.ErrorMessage(err)), []byte("in use")) {
		t.Fatalf("second Open: %v, want ECONFLICT saying the file is in use", err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ls.db")
	d := MustOpenPath(t, path)
	d.Close()
	if err := db.SetSchemaForTest(path, db.SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	_, err := db.Open(path, db.Options{Create: true})
	if err == nil || !bytes.Contains([]byte(cluster.ErrorMessage(err)), []byte("newer")) {
		t.Fatalf("Open of a newer schema: %v, want a refusal", err)
	}
}

func TestNotADataFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junk.db")
	os.WriteFile(path, bytes.Repeat([]byte("junk"), 4096), 0o600)
	if _, err := db.Open(path, db.Options{Create: true}); err == nil {
		t.Fatal("Open of a junk file succeeded")
	}
}

func TestBackupWhileWriting(t *testing.T) {
	d := MustOpenDB(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			d.CreateApp(fmt.Sprintf("app%d.example.com", i))
		}
	}()
	var buf bytes.Buffer
	for range 5 {
		buf.Reset()
		if _, err := d.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	path := filepath.Join(t.TempDir(), "copy.db")
	os.WriteFile(path, buf.Bytes(), 0o600)
	c := MustOpenPath(t, path)
	apps, err := c.Apps()
	if err != nil {
		t.Fatal(err)
	}
	for i := range apps {
		if _, err := c.App(apps[i]); err != nil {
			t.Fatal(err)
		}
	}
	if c.ControllerID() != d.ControllerID() {
		t.Fatal("backup has another controller id")
	}
}

func ExampleDB() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	d, err := db.Open(filepath.Join(dir, "longshoreman.db"), db.Options{Create: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	d.CreateApp("shop.example.com")
	d.UpdateApp("shop.example.com", func(a *cluster.App) error { a.Envs["GREETING"] = "hello"; return nil })
	app, _ := d.App("shop.example.com")
	fmt.Println(app.Name, app.EnvList())
	// Output: shop.example.com [GREETING=hello]
}

// TestAllInstancesSeesEveryWrite checks the in-memory copy of the
// instances never outlives a write, with readers running concurrently.
func TestAllInstancesSeesEveryWrite(t *testing.T) {
	d := MustOpenDB(t)
	d.CreateApp("a.example.com")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					d.AllInstances()
				}
			}
		}()
	}
	for i := range 200 {
		id := fmt.Sprint("c", i)
		d.PutInstance(cluster.Instance{ID: id, App: "a.example.com", Host: "10.0.0.1", Port: 1000 + i})
		if all, _ := d.AllInstances(); len(all) != i+1 {
			t.Fatalf("after put %d: %d instances", i, len(all))
		}
		d.SetRouted("a.example.com", []string{id}, true)
		all, _ := d.AllInstances()
		for _, inst := range all {
			if inst.ID == id && !inst.Routed {
				t.Fatalf("routed flag not seen after SetRouted %d", i)
			}
		}
	}
	d.DeleteInstance("a.example.com", "c0")
	if all, _ := d.AllInstances(); len(all) != 199 {
		t.Fatalf("after delete: %d", len(all))
	}
	d.DeleteApp("a.example.com")
	if all, _ := d.AllInstances(); len(all) != 0 {
		t.Fatalf("after app delete: %d", len(all))
	}
	close(stop)
	wg.Wait()
}
