package db_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
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
	if len(entries) != 2 || entries[0].Name() != "ls.db" || entries[1].Name() != "ls.db.key" {
		t.Fatalf("files beside the data file (and its key file) after a backup: %v", entries)
	}
	path := filepath.Join(t.TempDir(), "restored.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(db.KeyFile(filepath.Join(dir, "ls.db")))
	if err != nil {
		t.Fatal(err)
	}
	r, err := db.Open(path, db.Options{SecretsKey: string(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if apps, _ := r.Apps(); len(apps) != 1 {
		t.Fatalf("restored apps = %v", apps)
	}
}

// BenchmarkWriteTo measures a backup of a data file of about 16 MB into
// io.Discard: the snapshot into the temporary file (the time the read
// transaction is held) plus the copy out of it.
func BenchmarkWriteTo(b *testing.B) {
	benchmarkBackup(b, true)
}

// BenchmarkBackupWithoutKeys measures the default backup of the same
// file: its records, keys left out, copied into a new data file beside
// it (the time the read transaction is held), then streamed.
func BenchmarkBackupWithoutKeys(b *testing.B) {
	benchmarkBackup(b, false)
}

func benchmarkBackup(b *testing.B, keys bool) {
	d := MustOpenDB(b)
	value := strings.Repeat("x", cluster.MaxEnvValueLength)
	for i := 0; d.Size() < 16<<20; i++ {
		name := fmt.Sprintf("fill%d.example.com", i)
		if _, err := d.CreateApp(name); err != nil {
			b.Fatal(err)
		}
		if _, err := d.UpdateApp(name, func(a *cluster.App) error { a.Envs["A"], a.Envs["B"] = value, value; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(d.Size())
	b.ResetTimer()
	for range b.N {
		if _, err := d.Backup(io.Discard, keys); err != nil {
			b.Fatal(err)
		}
	}
}
