package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// KeyedOpener opens one store (the same file or prefix at every call,
// created at the first) with secretsKey as the keys of its env values
// (LONGSHOREMAN_SECRETS_KEY; "" for none).
type KeyedOpener func(secretsKey string) (cluster.Store, error)

// RunEnvKeyConformance runs the suite of the env values' encryption; fresh
// returns a KeyedOpener of a new, empty store for each test.
func RunEnvKeyConformance(t *testing.T, fresh func(t *testing.T) KeyedOpener) {
	for _, c := range []struct {
		name string
		run  func(*testing.T, KeyedOpener)
	}{
		{"EnvValuesSealed", testEnvValuesSealed},
		{"WrongKeyRefused", testWrongKeyRefused},
		{"RotateEnvKey", testRotateEnvKey},
		{"PlaintextSealedAtOpen", testPlaintextSealedAtOpen},
		{"TokenAndPasswordSealed", testTokenAndPasswordSealed},
		{"TokenAndPasswordSealedAfterEnvRelease", testTokenAndPasswordSealedAfterEnvRelease},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, fresh(t)) })
	}
}

func mustOpenKeyed(tb testing.TB, open KeyedOpener, key string) cluster.Store {
	tb.Helper()
	s, err := open(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// secretValue is a value no record holds by chance.
func secretValue(tb testing.TB) string {
	return fmt.Sprintf("s3cret-%s-%d", strings.ReplaceAll(tb.Name(), "/", "-"), time.Now().UnixNano())
}

// deployWithEnv gives app an env SECRET=value, in the app and in a
// succeeded revision.
func deployWithEnv(t *testing.T, s cluster.Store, app, value string) {
	t.Helper()
	must(t, errOf(s.CreateApp(app)))
	must(t, errOf(s.UpdateApp(app, func(a *cluster.App) error {
		a.Envs["SECRET"], a.Envs["PLAIN"] = value, "x"
		return nil
	})))
	rev := &cluster.Revision{App: app, Image: "img:1", Envs: []string{"PLAIN=x", "SECRET=" + value}, Count: 1, Status: cluster.StatusDeploying}
	must(t, s.CreateRevision(rev))
	must(t, errOf(s.FinishRevision(app, rev.Number, cluster.StatusSucceeded, "")))
}

// openSealed opens a store with SecretsKey and deploys a.example.com with
// a secret env value; it returns the store and the value.
func openSealed(t *testing.T, open KeyedOpener) (cluster.Store, string) {
	t.Helper()
	value := secretValue(t)
	s := mustOpenKeyed(t, open, SecretsKey)
	deployWithEnv(t, s, "a.example.com", value)
	return s, value
}

// reopenSealed opens the store again with key, closed when the test ends,
// and wants a.example.com's value read back.
func reopenSealed(t *testing.T, open KeyedOpener, key, value string) cluster.Store {
	t.Helper()
	s := mustOpenKeyed(t, open, key)
	t.Cleanup(func() { s.Close() })
	checkEnvValue(t, s, "a.example.com", value)
	return s
}

// checkEnvValue reads the app and its revisions and wants value in each.
func checkEnvValue(t *testing.T, s cluster.Store, app, value string) {
	t.Helper()
	a, err := s.App(app)
	must(t, err)
	if a.Envs["SECRET"] != value || a.Envs["PLAIN"] != "x" {
		t.Fatalf("app envs = %v; want SECRET=%s", a.Envs, value)
	}
	revs, err := s.Revisions(app)
	must(t, err)
	if len(revs) == 0 || strings.Join(revs[0].Envs, " ") != "PLAIN=x SECRET="+value {
		t.Fatalf("revisions = %+v", revs)
	}
}

// recordsHold reports whether any record's value holds b.
func recordsHold(t *testing.T, s cluster.Store, b string) bool {
	t.Helper()
	found := false
	must(t, s.Records(func(r cluster.Record) error {
		found = found || bytes.Contains(r.Value, []byte(b))
		return nil
	}))
	return found
}

// testEnvValuesSealed: a value set is in no record and no backup, with or
// without keys; the names are; reads give the value, also after a reopen.
func testEnvValuesSealed(t *testing.T, open KeyedOpener) {
	s, value := openSealed(t, open)
	checkEnvValue(t, s, "a.example.com", value)
	if recordsHold(t, s, value) {
		t.Fatal("a record holds the env value")
	}
	if !recordsHold(t, s, "SECRET") || !recordsHold(t, s, `"envs_sealed":1`) {
		t.Fatal("no record holds the env's name and the marker")
	}
	for _, keys := range []bool{true, false} {
		var buf bytes.Buffer
		must(t, errOf(s.Backup(&buf, keys)))
		if bytes.Contains(buf.Bytes(), []byte(value)) {
			t.Fatalf("the backup (keys %v) holds the env value", keys)
		}
	}
	if info := s.EnvKey(); info.ID == "" || info.ID != mustKeyring(t, SecretsKey).ID() {
		t.Fatalf("EnvKey = %+v", info)
	}
	a, err := s.App("a.example.com")
	must(t, err)
	if out, _ := json.Marshal(a); bytes.Contains(out, []byte("envs_sealed")) {
		t.Fatalf("a read app carries the marker: %s", out)
	}
	must(t, s.Close())
	reopenSealed(t, open, SecretsKey, value)
}

// testWrongKeyRefused: a store opens only with the key its values were
// sealed with; the refusals name the variable and the key's id, and change
// nothing.
func testWrongKeyRefused(t *testing.T, open KeyedOpener) {
	s, value := openSealed(t, open)
	must(t, s.Close())
	id := mustKeyring(t, SecretsKey).ID()
	for name, key := range map[string]string{"another key": cluster.NewSecretsKey(), "no key": ""} {
		if s, err := open(key); err == nil {
			s.Close()
			t.Fatalf("%s: the store opened", name)
		} else if msg := cluster.ErrorMessage(err); cluster.ErrorCode(err) != cluster.EINVALID || !strings.Contains(msg, cluster.SecretsKeyVar) || (key != "" && !strings.Contains(msg, id)) {
			t.Fatalf("%s: %v; want EINVALID naming %s and the key id %s", name, err, cluster.SecretsKeyVar, id)
		}
	}
	reopenSealed(t, open, SecretsKey, value)
}

// testRotateEnvKey: with NEW,OLD the store opens and reads; RotateEnvKey
// seals everything with NEW (a second rotation has nothing to do); then
// NEW alone opens it and OLD alone is refused.
func testRotateEnvKey(t *testing.T, open KeyedOpener) {
	s, value := openSealed(t, open)
	deployWithEnv(t, s, "b.example.com", value+"-b")
	must(t, s.Close())

	newKey := cluster.NewSecretsKey()
	s = mustOpenKeyed(t, open, newKey+","+SecretsKey)
	checkEnvValue(t, s, "a.example.com", value)
	// A write while rotating seals with the new key.
	must(t, errOf(s.UpdateApp("b.example.com", func(a *cluster.App) error { a.Envs["OTHER"] = "y"; return nil })))
	n, err := s.RotateEnvKey()
	must(t, err)
	if n != 3 { // a's app and revision, b's revision
		t.Fatalf("RotateEnvKey sealed %d records anew, want 3", n)
	}
	if n, err := s.RotateEnvKey(); err != nil || n != 0 {
		t.Fatalf("a second RotateEnvKey = %d, %v; want nothing to do", n, err)
	}
	must(t, s.Close())

	if s, err := open(SecretsKey); err == nil {
		s.Close()
		t.Fatal("the old key alone opened the rotated store")
	} else if !strings.Contains(cluster.ErrorMessage(err), mustKeyring(t, newKey).ID()) {
		t.Fatalf("old key: %v; want the new key's id named", err)
	}
	s = reopenSealed(t, open, newKey, value)
	checkEnvValue(t, s, "b.example.com", value+"-b")
	if recordsHold(t, s, value) {
		t.Fatal("a record holds the env value after the rotation")
	}
}

// testPlaintextSealedAtOpen: records of a release before encryption
// (plaintext, no marker, no check) are read as they are and sealed at the
// next open, in one pass that writes the check.
func testPlaintextSealedAtOpen(t *testing.T, open KeyedOpener) {
	value := secretValue(t)
	s := mustOpenKeyed(t, open, SecretsKey)
	app := cluster.App{Name: "old.example.com", Envs: map[string]string{"PLAIN": "x", "SECRET": value}, Image: "img:1", Count: 1, Revision: 1, Created: time.Now().UTC()}
	rev := cluster.Revision{App: app.Name, Number: 1, Image: "img:1", Envs: []string{"PLAIN=x", "SECRET=" + value}, Count: 1, Status: cluster.StatusSucceeded}
	appJSON, _ := json.Marshal(app)
	revJSON, _ := json.Marshal(rev)
	token, password := value+"-token", value+"-password"
	must(t, s.PutRecords(append([]cluster.Record{
		{Kind: cluster.RecordApp, Key: app.Name, Value: appJSON},
		{Kind: cluster.RecordRevision, Scope: app.Name, Key: "1", Value: revJSON},
		{Kind: cluster.RecordMeta, Key: cluster.MetaSecretsCheck}, // deleted: as written before encryption
	}, plaintextSecrets(token, password)...)))
	must(t, s.Close())

	s = mustOpenKeyed(t, open, SecretsKey)
	defer s.Close()
	if got := s.EnvKey().Sealed; got != 4 { // the app, its revision, the registry, the token
		t.Fatalf("the open sealed %d records, want 4", got)
	}
	if recordsHold(t, s, value) {
		t.Fatal("a record still holds the env value, the token or the password after the open")
	}
	checkEnvValue(t, s, app.Name, value)
	checkTokenAndPassword(t, s, token, password)
	if n, err := s.RotateEnvKey(); err != nil || n != 0 {
		t.Fatalf("RotateEnvKey after the open = %d, %v; want nothing left to seal", n, err)
	}
}

// oldRegistry is the registry of the token and password tests.
const oldRegistry = "registry.example.com"

// plaintextSecrets returns the records of a release before their
// encryption: the token in the meta record MetaToken, the registry's
// password in clear without the marker, and no MetaTokenSealed.
func plaintextSecrets(token, password string) []cluster.Record {
	reg, _ := json.Marshal(cluster.Registry{Address: oldRegistry, Username: "deployer", Password: password})
	return []cluster.Record{
		{Kind: cluster.RecordMeta, Key: cluster.MetaToken, Value: []byte(token)},
		{Kind: cluster.RecordMeta, Key: cluster.MetaTokenSealed}, // deleted
		{Kind: cluster.RecordRegistry, Key: oldRegistry, Value: reg},
	}
}

// checkTokenAndPassword wants the API token and the registry's
// credentials read back in clear, and their names in the records.
func checkTokenAndPassword(t *testing.T, s cluster.Store, token, password string) {
	t.Helper()
	if got, err := s.Token(); err != nil || got != token {
		t.Fatalf("Token = %q, %v; want %q", got, err, token)
	}
	if got, created, err := s.EnsureToken(); err != nil || created || got != token {
		t.Fatalf("EnsureToken = %q, %v, %v; want the stored %q", got, created, err, token)
	}
	if u, p, ok := s.RegistryAuth(oldRegistry); !ok || u != "deployer" || p != password {
		t.Fatalf("RegistryAuth = %q %q %v; want deployer %q", u, p, ok, password)
	}
	if !recordsHold(t, s, oldRegistry) || !recordsHold(t, s, `"username":"deployer"`) || !recordsHold(t, s, `"password_sealed":1`) {
		t.Fatal("no record holds the registry's address, username and marker")
	}
	if recordsHold(t, s, token) || recordsHold(t, s, password) {
		t.Fatal("a record holds the API token or the registry's password")
	}
}

// testTokenAndPasswordSealed: the API token and a registry's password are
// in no record and no backup, with or without keys; reads give them, also
// after a reopen and after a rotation, which seals them anew.
func testTokenAndPasswordSealed(t *testing.T, open KeyedOpener) {
	password := secretValue(t)
	s := mustOpenKeyed(t, open, SecretsKey)
	token, created, err := s.EnsureToken()
	if err != nil || !created || len(token) < 32 {
		t.Fatalf("EnsureToken = %q, %v, %v", token, created, err)
	}
	must(t, s.PutRegistry(cluster.Registry{Address: oldRegistry, Username: "deployer", Password: password}))
	checkTokenAndPassword(t, s, token, password)
	if !metaHolds(t, s, cluster.MetaTokenSealed) {
		t.Fatalf("no meta record %s", cluster.MetaTokenSealed)
	}
	for _, keys := range []bool{true, false} {
		var buf bytes.Buffer
		must(t, errOf(s.Backup(&buf, keys)))
		if bytes.Contains(buf.Bytes(), []byte(token)) || bytes.Contains(buf.Bytes(), []byte(password)) {
			t.Fatalf("the backup (keys %v) holds the API token or the registry's password", keys)
		}
		if !bytes.Contains(buf.Bytes(), []byte(oldRegistry)) {
			t.Fatalf("the backup (keys %v) lacks the registry: the check above looked in the wrong place", keys)
		}
	}
	must(t, s.Close())

	s = mustOpenKeyed(t, open, SecretsKey)
	checkTokenAndPassword(t, s, token, password)
	must(t, s.Close())

	newKey := cluster.NewSecretsKey()
	s = mustOpenKeyed(t, open, newKey+","+SecretsKey)
	checkTokenAndPassword(t, s, token, password)
	if n, err := s.RotateEnvKey(); err != nil || n != 2 {
		t.Fatalf("RotateEnvKey = %d, %v; want the token and the registry sealed anew", n, err)
	}
	must(t, s.Close())
	s = mustOpenKeyed(t, open, newKey)
	defer s.Close()
	checkTokenAndPassword(t, s, token, password)
}

// testTokenAndPasswordSealedAfterEnvRelease: a store of the release that
// sealed env values only (a check, a plaintext token and password) has
// the token and the password sealed at its next open.
func testTokenAndPasswordSealedAfterEnvRelease(t *testing.T, open KeyedOpener) {
	s, value := openSealed(t, open)
	token, password := value+"-token", value+"-password"
	must(t, s.PutRecords(plaintextSecrets(token, password)))
	if !recordsHold(t, s, token) || !recordsHold(t, s, password) {
		t.Fatal("the plaintext records were not written")
	}
	must(t, s.Close())

	s = mustOpenKeyed(t, open, SecretsKey)
	defer s.Close()
	if got := s.EnvKey().Sealed; got != 2 {
		t.Fatalf("the open sealed %d records, want 2 (the token and the registry)", got)
	}
	checkTokenAndPassword(t, s, token, password)
	checkEnvValue(t, s, "a.example.com", value)
	if n, err := s.RotateEnvKey(); err != nil || n != 0 {
		t.Fatalf("RotateEnvKey after the open = %d, %v; want nothing left to seal", n, err)
	}
}

// metaHolds reports whether the store has a meta record named key.
func metaHolds(t *testing.T, s cluster.Store, key string) bool {
	t.Helper()
	found := false
	must(t, s.Records(func(r cluster.Record) error {
		found = found || (r.Kind == cluster.RecordMeta && r.Key == key && len(r.Value) > 0)
		return nil
	}))
	return found
}

func mustKeyring(tb testing.TB, list string) *cluster.Keyring {
	tb.Helper()
	k, err := cluster.ParseKeyring(list)
	must(tb, err)
	return k
}
