package db_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
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

func TestSecondOpenFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ls.db")
	MustOpenPath(t, path)
	_, err := db.Open(path, db.Options{Timeout: 100_000_000})
	if cluster.ErrorCode(err) != cluster.ECONFLICT || !bytes.Contains([]byte(cluster.ErrorMessage(err)), []byte("in use")) {
		t.Fatalf("second Open: %v, want ECONFLICT saying the file is in use", err)
	}
}

func TestNotADataFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junk.db")
	os.WriteFile(path, bytes.Repeat([]byte("junk"), 4096), 0o600)
	if _, err := db.Open(path, db.Options{Create: true}); err == nil {
		t.Fatal("Open of a junk file succeeded")
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
