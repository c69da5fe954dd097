package storetest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
)

// testBackupWithoutKeys takes a backup without keys: none of the private
// keys' bytes is in the file, everything else is (certificates' chains
// and state, the API token, registries, apps, instances); a controller's
// writable open refuses it, naming the restore; a read-only open reads it.
// With keys, the backup holds every record as the store does.
func testBackupWithoutKeys(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	Populate(t, d)
	routesKey, _ := d.RoutesKey()
	routerToken, _ := d.RouterToken()
	secrets := map[string]string{"a certificate key": "key-1", "a wildcard's key": "key-w", "the ACME account key": "account-key",
		"the routes key": routesKey, "the router token": routerToken}

	var with, without bytes.Buffer
	must(t, errOf(d.Backup(&with, true)))
	must(t, errOf(d.Backup(&without, false)))
	for what, secret := range secrets {
		if secret == "" {
			t.Fatalf("the store holds no %s to look for", what)
		}
		if bytes.Contains(without.Bytes(), []byte(secret)) {
			t.Errorf("the backup without keys holds %s", what)
		}
		if !bytes.Contains(with.Bytes(), []byte(secret)) {
			t.Errorf("the backup with keys lacks %s", what)
		}
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "nokeys.db")
	must(t, os.WriteFile(path, without.Bytes(), 0o600))
	if c, err := db.Open(path, db.Options{SecretsKey: SecretsKey}); err == nil {
		c.Close()
		t.Fatal("a controller's open of a backup without keys succeeded")
	} else if cluster.ErrorCode(err) != cluster.EINVALID || !strings.Contains(err.Error(), "longshoreman restore") || !strings.Contains(err.Error(), path) {
		t.Fatalf("opening a backup without keys: %v; want EINVALID naming the file and longshoreman restore", err)
	}
	c, err := db.Open(path, db.Options{ReadOnly: true, SecretsKey: SecretsKey})
	must(t, err)
	defer c.Close()
	var marked bool
	got := map[string]cluster.Record{}
	must(t, c.Records(func(r cluster.Record) error {
		marked = marked || r.Kind == cluster.RecordMeta && r.Key == cluster.MetaKeysOmitted
		got[r.Kind+"/"+r.Scope+"/"+r.Key] = r
		return nil
	}))
	if !marked {
		t.Error("the backup without keys is not marked as such")
	}
	for _, r := range SortedRecords(t, d) {
		id := r.Kind + "/" + r.Scope + "/" + r.Key
		b, ok := got[id]
		switch {
		case cluster.IsKeyRecord(r):
			if ok {
				t.Errorf("%s is in the backup without keys", id)
			}
		case !ok:
			t.Errorf("%s is missing from the backup without keys", id)
		case r.Kind != cluster.RecordCert && !bytes.Equal(b.Value, r.Value):
			t.Errorf("%s differs in the backup without keys: %q, want %q", id, b.Value, r.Value)
		}
	}
	certs, err := c.Certs()
	must(t, err)
	want, _ := d.Certs()
	if len(certs) != len(want) {
		t.Fatalf("backup certificates %+v, want %d", certs, len(want))
	}
	for i, got := range certs {
		w := want[i]
		w.Key = ""
		if !got.Equal(w) {
			t.Errorf("backup certificate %+v, want %+v", got, w)
		}
	}
	if tok, _ := c.Token(); tok == "" {
		t.Error("the backup without keys lacks the API token")
	}
	if user, pass, ok := c.RegistryAuth("registry.example.com"); !ok || user != "u" || pass != "p" {
		t.Error("the backup without keys lacks the registry credentials")
	}
}

// testKeysOmittedRefused: a store holding a backup without keys (copied
// record by record, as `migrate` would) refuses a controller's open with
// the message naming the restore.
func testKeysOmittedRefused(t *testing.T, open Opener) {
	d, err := open(true)
	must(t, err)
	must(t, d.PutRecords([]cluster.Record{{Kind: cluster.RecordMeta, Key: cluster.MetaKeysOmitted, Value: []byte("keys")}}))
	must(t, d.Close())
	if d, err := open(false); err == nil {
		d.Close()
		t.Fatal("a store marked as a backup without keys opened for a controller")
	} else if cluster.ErrorCode(err) != cluster.EINVALID || !strings.Contains(err.Error(), "longshoreman restore") {
		t.Fatalf("opening a store marked as a backup without keys: %v; want EINVALID naming longshoreman restore", err)
	}
}
