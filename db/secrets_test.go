package db_test

import (
	"bytes"
	"errors"
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

// TestPreviousReleaseTokenAndRegistrySealed opens a copy of a data file of
// the release before encryption holding the API token and a registry's
// credentials (testdata/README.md): a read-only open without a key reads
// them as they are; the first open for writing seals them with the env
// values, no byte of the token or the password is left in the file, and a
// read-only open then needs the key for the token.
func TestPreviousReleaseTokenAndRegistrySealed(t *testing.T) {
	const (
		token    = "5bec2f44ff9daad1d41690a509f8c4d818fc618731ac2b9b"
		registry = "registry.example.com:5000"
		password = "prev-release-registry-password"
	)
	orig, err := os.ReadFile("testdata/prev-release-registry.db")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{token, password} {
		if !bytes.Contains(orig, []byte(s)) {
			t.Fatalf("testdata/prev-release-registry.db lacks %s: not the file the test expects", s)
		}
	}
	path := filepath.Join(t.TempDir(), "prev.db")
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(what string, d *db.DB) {
		t.Helper()
		if got, err := d.Token(); err != nil || got != token {
			t.Fatalf("%s: Token = %q, %v", what, got, err)
		}
		if u, p, ok := d.RegistryAuth(registry); !ok || u != "prev-deployer" || p != password {
			t.Fatalf("%s: RegistryAuth = %q %q %v", what, u, p, ok)
		}
	}
	r, err := db.Open(path, db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	check("read-only before the first open", r)
	r.Close()

	d, err := db.Open(path, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if info := d.EnvKey(); !info.Generated || info.Sealed != 4 {
		t.Fatalf("EnvKey = %+v; want a generated key and 4 records sealed (the app, its revision, the registry, the token)", info)
	}
	check("first open", d)
	if a, err := d.App("prev.example.com"); err != nil || a.Envs["API_KEY"] != "prev-release-secret-3" {
		t.Fatalf("app = %+v, %v", a, err)
	}
	d.Close()
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{token, password, "prev-release-secret-3"} {
		if bytes.Contains(after, []byte(s)) {
			t.Fatalf("the data file still holds %s after its first open", s)
		}
	}
	for _, s := range []string{registry, "prev-deployer", cluster.MetaTokenSealed} {
		if !bytes.Contains(after, []byte(s)) {
			t.Fatalf("the data file lacks %s: the check above looked in the wrong file", s)
		}
	}

	r, err = db.Open(path, db.Options{ReadOnly: true}) // the key file beside it
	if err != nil {
		t.Fatal(err)
	}
	check("read-only with the key file", r)
	r.Close()
	os.Rename(db.KeyFile(path), db.KeyFile(path)+".elsewhere")
	r, err = db.Open(path, db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var missing *cluster.KeyMissingError
	if _, err := r.Token(); !errors.As(err, &missing) || missing.ID != d.EnvKey().ID {
		t.Fatalf("Token without the key = %v; want a KeyMissingError naming key id %s", err, d.EnvKey().ID)
	}
	if _, _, ok := r.RegistryAuth(registry); ok {
		t.Fatal("RegistryAuth without the key gave credentials")
	}
	if addrs, err := r.Registries(); err != nil || len(addrs) != 1 || addrs[0] != registry {
		t.Fatalf("Registries without the key = %v, %v; want the address", addrs, err)
	}
}
