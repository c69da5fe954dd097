package db_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/longshoreman/longshoreman/db"
)

// TestWriteToLeavesNoTemporaryFile takes a backup, opens it as a data file
// and checks that the temporary copy beside the data file is gone.
func TestWriteToLeavesNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	d := MustOpenPath(t, filepath.Join(dir, "ls.db"))
	if _, err := d.CreateApp("a.example.com"); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := d.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("files beside the data file after a backup: %v", entries)
	}
	path := filepath.Join(t.TempDir(), "restored.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := db.Open(path, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if apps, _ := r.Apps(); len(apps) != 1 {
		t.Fatalf("restored apps = %v", apps)
	}
}
