package integration

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/command"
	"github.com/longshoreman/longshoreman/storetest"
)

// restoreCmd runs `longshoreman restore args...` and returns what it said.
func restoreCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := (&command.RestoreCommand{Stdout: &out, Getenv: testGetenv}).Run(context.Background(), args)
	return out.String(), err
}

// keylessBackup fills a new store at dsn, writes a backup of it without
// keys to a file, closes it and returns the file and the store's records.
func keylessBackup(t *testing.T, dsn string) (string, []cluster.Record) {
	t.Helper()
	s, err := command.OpenStore(dsn, true, testGetenv)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Populate(t, s)
	var buf bytes.Buffer
	if _, err := s.Backup(&buf, false); err != nil {
		t.Fatal(err)
	}
	recs := storetest.SortedRecords(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "nokeys.db")
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return file, recs
}

// checkRestoredOntoItsStore restores a backup without keys onto the store
// it was taken from: every record is as it was, keys included.
func checkRestoredOntoItsStore(t *testing.T, dsn string) {
	file, before := keylessBackup(t, dsn)
	out, err := restoreCmd(t, file, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "keeps its own (routes key, router token, ACME account keys)") ||
		!strings.Contains(out, "Certificates that keep the target's key: *.example.org, secure.example.com.") {
		t.Errorf("restore said: %s", out)
	}
	s, err := command.OpenStore(dsn, false, testGetenv)
	if err != nil {
		t.Fatalf("a controller's open of the restored store: %v", err)
	}
	defer s.Close()
	after := storetest.SortedRecords(t, s)
	for i := range after { // the open raised the epoch
		if after[i].Kind == cluster.RecordMeta && after[i].Key == "epoch" {
			after[i].Value = nil
		}
	}
	for i := range before {
		if before[i].Kind == cluster.RecordMeta && before[i].Key == "epoch" {
			before[i].Value = nil
		}
	}
	if diff := storetest.DiffRecords(before, after); diff != "" {
		t.Fatalf("restored onto the store it came from, it differs:\n%s", diff)
	}
}

// TestRestoreWithoutKeysOntoItsDataFile: the store comes back whole.
func TestRestoreWithoutKeysOntoItsDataFile(t *testing.T) {
	t.Parallel()
	checkRestoredOntoItsStore(t, filepath.Join(t.TempDir(), "ls.db"))
}

// TestRestoreWithoutKeysOntoAnotherStore: a store of another cluster keeps
// its own keys and takes the backup's cluster; certificates whose key it
// lacks are ordered again or to be added again.
func TestRestoreWithoutKeysOntoAnotherStore(t *testing.T) {
	t.Parallel()
	file, _ := keylessBackup(t, filepath.Join(t.TempDir(), "a.db"))
	other := filepath.Join(t.TempDir(), "b.db")
	b, err := command.OpenStore(other, true, testGetenv)
	if err != nil {
		t.Fatal(err)
	}
	routesKey, _, _ := b.EnsureRoutesKey()
	routerToken, _, _ := b.EnsureRouterToken()
	b.PutCert(cluster.Cert{Domain: "secure.example.com", Source: cluster.CertACME, Chain: "chain-other", Key: "key-other"})
	b.Close()

	out, err := restoreCmd(t, file, other)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "keeps its own (routes key, router token). It holds no ACME account keys") ||
		!strings.Contains(out, "to add again with certs:add: *.example.org.") || !strings.Contains(out, "ordered again by the leader: secure.example.com.") {
		t.Errorf("restore said: %s", out)
	}
	b, err = command.OpenStore(other, false, testGetenv)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if rk, _ := b.RoutesKey(); rk != routesKey {
		t.Error("the target's routes key was not kept")
	}
	if rt, _ := b.RouterToken(); rt != routerToken {
		t.Error("the target's router token was not kept")
	}
	if _, ok, _ := b.ACMEAccount("https://ca.example/dir"); ok {
		t.Error("the target has an ACME account the backup held no key of")
	}
	set, _ := b.CertSet()
	if len(set.Certs) != 0 {
		t.Errorf("certificates served after the restore: %+v; none has its key", set.Certs)
	}
	apps, _ := b.Apps()
	if len(apps) != 6 {
		t.Errorf("apps after the restore: %v", apps)
	}
}

// TestRestoreRefusals: a backup without keys onto a store without keys
// needs --new-keys and leaves nothing behind; BACKUP and TO the same is
// refused; migrate sends a backup without keys to restore.
func TestRestoreRefusals(t *testing.T) {
	t.Parallel()
	file, _ := keylessBackup(t, filepath.Join(t.TempDir(), "a.db"))
	fresh := filepath.Join(t.TempDir(), "new.db")
	if _, err := restoreCmd(t, file, fresh); cluster.ErrorCode(err) != cluster.ECONFLICT || !strings.Contains(err.Error(), "--new-keys") {
		t.Errorf("restore onto a new data file: %v", err)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("the refused restore created %s: %v", fresh, err)
	}
	if _, err := restoreCmd(t, file, file); cluster.ErrorCode(err) != cluster.EINVALID {
		t.Errorf("restore onto itself: %v", err)
	}
	err := (&command.MigrateCommand{Stdout: io.Discard, Getenv: testGetenv}).Run(context.Background(), []string{file, fresh})
	if err == nil || !strings.Contains(err.Error(), "longshoreman restore "+file+" "+fresh) {
		t.Errorf("migrate of a backup without keys: %v; want it sent to restore", err)
	}
}
