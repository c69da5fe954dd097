package db_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
)

// TestKeyFileGenerated: without LONGSHOREMAN_SECRETS_KEY the first open
// writes a key file beside the data file (0600) and later opens read it;
// with the key file gone the file is refused, naming the variable and the
// file, and no new key is made for it.
func TestKeyFileGenerated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ls.db")
	d, err := db.Open(path, db.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	info := d.EnvKey()
	if _, err := d.CreateApp("a.example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.UpdateApp("a.example.com", func(a *cluster.App) error { a.Envs["K"] = "v-in-key-file-test"; return nil }); err != nil {
		t.Fatal(err)
	}
	d.Close()
	fi, err := os.Stat(db.KeyFile(path))
	if err != nil || fi.Mode().Perm() != 0o600 || !info.Generated || info.Source != db.KeyFile(path) {
		t.Fatalf("key file %v, %v; EnvKey %+v", fi, err, info)
	}
	key, _ := os.ReadFile(db.KeyFile(path))

	d, err = db.Open(path, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again := d.EnvKey(); again.Generated || again.ID != info.ID {
		t.Fatalf("reopened: EnvKey %+v, first %+v", again, info)
	}
	d.Close()

	os.Remove(db.KeyFile(path))
	if d, err := db.Open(path, db.Options{}); err == nil {
		d.Close()
		t.Fatal("opened without its key file")
	} else if msg := cluster.ErrorMessage(err); !strings.Contains(msg, cluster.SecretsKeyVar) || !strings.Contains(msg, db.KeyFile(path)) || !strings.Contains(msg, info.ID) {
		t.Fatalf("without the key file: %v", err)
	}
	if _, err := os.Stat(db.KeyFile(path)); err == nil {
		t.Fatal("a new key was generated for a file whose values are sealed")
	}
	d, err = db.Open(path, db.Options{SecretsKey: string(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if a, err := d.App("a.example.com"); err != nil || a.Envs["K"] != "v-in-key-file-test" {
		t.Fatalf("with the key given: %+v, %v", a, err)
	}
}

// TestReadOnlyWithoutKey: a read-only open (token, migrate's source) needs
// no key; it reads records as they are and refuses only the env values,
// naming their key.
func TestReadOnlyWithoutKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ls.db")
	d := MustOpenPath(t, path)
	d.CreateApp("a.example.com")
	d.UpdateApp("a.example.com", func(a *cluster.App) error { a.Envs["K"] = "v"; return nil })
	d.Close()
	os.Rename(db.KeyFile(path), db.KeyFile(path)+".elsewhere")
	r, err := db.Open(path, db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if apps, err := r.Apps(); err != nil || len(apps) != 1 {
		t.Fatalf("Apps = %v, %v", apps, err)
	}
	if err := r.Records(func(cluster.Record) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := r.App("a.example.com"); err == nil || !strings.Contains(err.Error(), d.EnvKey().ID) {
		t.Fatalf("App without the key: %v; want its key id named", err)
	}
}

// TestPreviousReleaseFileSealed opens a copy of a data file written by the
// release before encryption (testdata/README.md): its env values are read
// as they were, sealed at this first open with a generated key, and no byte
// of them is left in the file.
func TestPreviousReleaseFileSealed(t *testing.T) {
	orig, err := os.ReadFile("testdata/prev-release.db")
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"prev-release-secret-1", "prev-release-secret-2"}
	for _, s := range secrets {
		if !bytes.Contains(orig, []byte(s)) {
			t.Fatalf("testdata/prev-release.db lacks %s: not the file the test expects", s)
		}
	}
	path := filepath.Join(t.TempDir(), "prev.db")
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(path, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if info := d.EnvKey(); !info.Generated || info.Sealed != 3 {
		t.Fatalf("EnvKey = %+v; want a generated key and 3 records sealed (the app, 2 revisions)", info)
	}
	check := func(d *db.DB) {
		t.Helper()
		a, err := d.App("prev.example.com")
		if err != nil || a.Envs["API_KEY"] != "prev-release-secret-2" || a.Envs["DATABASE_URL"] != "postgres://app:prev-release-secret-1@db/app" {
			t.Fatalf("app = %+v, %v", a, err)
		}
		revs, err := d.Revisions("prev.example.com")
		if err != nil || len(revs) != 2 || strings.Join(revs[1].Envs, " ") != "DATABASE_URL=postgres://app:prev-release-secret-1@db/app" {
			t.Fatalf("revisions = %+v, %v", revs, err)
		}
	}
	check(d)
	d.Close()
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if bytes.Contains(after, []byte(s)) {
			t.Fatalf("the data file still holds %s after its first open", s)
		}
	}
	if _, err := os.Stat(path + ".sealing"); err == nil {
		t.Fatal("the rewrite left its temporary file")
	}
	d, err = db.Open(path, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if info := d.EnvKey(); info.Generated || info.Sealed != 0 {
		t.Fatalf("second open: EnvKey = %+v", info)
	}
	check(d)
}
