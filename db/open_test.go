package db_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
)

func TestMissingFileNeedsCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "typo", "ls.db")
	os.MkdirAll(filepath.Dir(path), 0o700)
	_, err := db.Open(path, db.Options{})
	msg := cluster.ErrorMessage(err)
	if cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("Open of a missing file: %v, want ENOTFOUND", err)
	}
	for _, want := range []string{path, "typo", "mounted", "longshoreman serve --init", "LONGSHOREMAN_INIT=1"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("Open without Create created the file")
	}
	if _, err := db.Open(path, db.Options{ReadOnly: true}); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("read-only Open of a missing file: %v", err)
	}
}

// TestOldFileGetsItsControllerAsCluster: a file of an earlier release has
// no cluster id; it gets its controller id, so its routers stay with it.
func TestOldFileGetsItsControllerAsCluster(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ls.db")
	d := MustOpenPath(t, path)
	controller := d.ControllerID()
	d.Close()
	if err := db.SetMetaForTest(path, "cluster", nil); err != nil {
		t.Fatal(err)
	}
	d = MustOpenPath(t, path)
	if d.ClusterID() != controller {
		t.Fatalf("migrated cluster id %q, want the controller id %q", d.ClusterID(), controller)
	}
	d.Close()
	if d = MustOpenPath(t, path); d.ClusterID() != controller {
		t.Fatalf("cluster id after a second open %q", d.ClusterID())
	}
}

// TestEpochRisesAtEveryOpen, also when the file is an older copy (a
// restored backup) and when the stored epoch is ahead of the clock.
func TestEpochRisesAtEveryOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ls.db")
	d := MustOpenPath(t, path)
	e1 := d.Epoch()
	if e1 < uint64(time.Now().Add(-time.Minute).UnixNano()) {
		t.Fatalf("epoch %d is not the clock in ns", e1)
	}
	d.CreateApp("a.example.com")
	d.PutInstance(cluster.Instance{ID: "c1", App: "a.example.com", Host: "10.0.0.1", Port: 1, Routed: true})
	t1, _ := d.RoutingTable()
	backup := filepath.Join(dir, "backup.db")
	f, _ := os.Create(backup)
	d.WriteTo(f)
	f.Close()
	d.PutInstance(cluster.Instance{ID: "c2", App: "a.example.com", Host: "10.0.0.1", Port: 2, Routed: true})
	t2, _ := d.RoutingTable()
	d.Close()
	if t1.Epoch != e1 || t2.Epoch != e1 || t2.Version != t1.Version+1 || t1.Cluster != d.ClusterID() {
		t.Fatalf("tables %+v %+v, epoch %d", t1, t2, e1)
	}

	// The restore: the backup replaces the file.
	b, _ := os.ReadFile(backup)
	os.WriteFile(path, b, 0o600)
	d = MustOpenPath(t, path)
	t3, _ := d.RoutingTable()
	if !t3.Newer(t2) || t3.Version >= t2.Version || t3.Cluster != t2.Cluster {
		t.Fatalf("restored table %d.%d (cluster %s) is not newer than %d.%d", t3.Epoch, t3.Version, t3.Cluster, t2.Epoch, t2.Version)
	}
	d.Close()

	// A stored epoch ahead of the clock (the clock was set back): +1.
	ahead := uint64(time.Now().Add(time.Hour).UnixNano())
	db.SetMetaForTest(path, "epoch", []byte(strconv.FormatUint(ahead, 10)))
	if d = MustOpenPath(t, path); d.Epoch() != ahead+1 {
		t.Fatalf("epoch %d after stored %d", d.Epoch(), ahead)
	}
}

// TestDamagedFilesRefused: an empty file, a file cut short, and a file
// with bytes overwritten in the middle each fail at open with a message
// saying to restore a backup; none panics.
func TestDamagedFilesRefused(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	d := MustOpenPath(t, good)
	for i := range 300 {
		name := fmt.Sprintf("app%03d.example.com", i)
		d.CreateApp(name)
		d.UpdateApp(name, func(a *cluster.App) error { a.Envs["PAD"] = strings.Repeat("x", 500); return nil })
	}
	used := int(d.Size()) // bbolt grows the file ahead: the end of the file may be unused
	d.Close()
	full, _ := os.ReadFile(good)
	if len(full) < 64<<10 {
		t.Fatalf("test file only %d bytes", len(full))
	}
	pageSize := os.Getpagesize()
	overwrite := func(b []byte, at, n int) []byte {
		c := append([]byte(nil), b...)
		copy(c[at:], strings.Repeat("\xff", n))
		return c
	}
	mid := used / 2 / pageSize * pageSize
	for name, content := range map[string][]byte{
		"empty":                {},
		"cut to half":          full[:used/2],
		"last used page cut":   full[:used-pageSize],
		"cut mid-page":         full[:used-pageSize/2],
		"16 pages overwritten": overwrite(full, mid, 16*pageSize),
		"root pages":           overwrite(full, 2*pageSize, 4*pageSize),
		"both meta pages":      overwrite(full, 0, 2*pageSize),
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".db")
		os.WriteFile(path, content, 0o600)
		for _, opts := range []db.Options{{}, {Create: true}, {ReadOnly: true}} {
			d, err := db.Open(path, opts)
			if err == nil {
				d.Close()
				t.Errorf("%s (%+v): Open succeeded", name, opts)
				continue
			}
			if msg := cluster.ErrorMessage(err); cluster.ErrorCode(err) != cluster.EINVALID || !strings.Contains(msg, "restore") || !strings.Contains(msg, path) {
				t.Errorf("%s (%+v): %v, want EINVALID naming the file and saying to restore a backup", name, opts, err)
			}
		}
	}
}
