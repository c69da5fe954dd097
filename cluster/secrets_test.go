package cluster_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
)

func mustKeyring(t *testing.T, list string) *cluster.Keyring {
	t.Helper()
	k, err := cluster.ParseKeyring(list)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseKeyring(t *testing.T) {
	raw := bytes.Repeat([]byte{7}, 32)
	b64, hx := base64.StdEncoding.EncodeToString(raw), hex.EncodeToString(raw)
	other := cluster.NewSecretsKey()
	for _, c := range []struct {
		name, list string
		ids        int
		want       string // in the error; "" for none
	}{
		{"base64", b64, 1, ""},
		{"hex", hx, 1, ""},
		{"raw url base64", base64.RawURLEncoding.EncodeToString(raw), 1, ""},
		{"two, spaces around", " " + other + " , " + b64 + "\n", 2, ""},
		{"empty", "", 0, "key 1 of 1 is empty"},
		{"empty second", b64 + ",", 0, "key 2 of 2 is empty"},
		{"short", base64.StdEncoding.EncodeToString(raw[:16]), 0, "is 16 bytes, not 32"},
		{"not a key", "correct horse battery staple", 0, "neither hex nor base64"},
		{"twice", b64 + "," + hx, 0, "given twice"},
	} {
		t.Run(c.name, func(t *testing.T) {
			k, err := cluster.ParseKeyring(c.list)
			if c.want == "" {
				if err != nil || len(k.IDs()) != c.ids {
					t.Fatalf("ParseKeyring = %v, %v; want %d keys", k, err, c.ids)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), cluster.SecretsKeyVar) {
				t.Fatalf("ParseKeyring = %v; want an error naming %s and saying %q", err, cluster.SecretsKeyVar, c.want)
			}
			if strings.Contains(err.Error(), b64) || strings.Contains(err.Error(), hx) {
				t.Fatalf("the error shows the key: %v", err)
			}
		})
	}
	// The same key written either way is the same key.
	if a, b := mustKeyring(t, b64).ID(), mustKeyring(t, hx).ID(); a != b || a != cluster.KeyID(raw) || len(a) != 8 {
		t.Fatalf("ids %s and %s of one key", a, b)
	}
}

func TestSealOpen(t *testing.T) {
	oldKey, newKey := cluster.NewSecretsKey(), cluster.NewSecretsKey()
	old := mustKeyring(t, oldKey)
	both := mustKeyring(t, newKey+","+oldKey)
	sealed := old.Seal("s3cret value", "ctx")
	if strings.Contains(sealed, "s3cret") || !strings.HasPrefix(sealed, old.ID()+":") {
		t.Fatalf("sealed = %q", sealed)
	}
	if again := old.Seal("s3cret value", "ctx"); again == sealed {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	for _, k := range []*cluster.Keyring{old, both} {
		if v, err := k.Open(sealed, "ctx"); err != nil || v != "s3cret value" {
			t.Fatalf("Open = %q, %v", v, err)
		}
	}
	if both.Current(sealed) || !old.Current(sealed) || !both.Current(both.Seal("x", "c")) {
		t.Fatal("Current does not tell the sealing key")
	}
	if _, err := old.Open(sealed, "other ctx"); err == nil {
		t.Fatal("a value opened in another context")
	}
	var missing *cluster.KeyMissingError
	if _, err := mustKeyring(t, newKey).Open(sealed, "ctx"); !errors.As(err, &missing) || missing.ID != old.ID() {
		t.Fatalf("opening without the key: %v; want a KeyMissingError naming %s", err, old.ID())
	}
	tampered := []byte(sealed)
	tampered[len(tampered)-2] ^= 1
	if _, err := old.Open(string(tampered), "ctx"); err == nil {
		t.Fatal("an altered value opened")
	}
}

func TestCheck(t *testing.T) {
	oldKey, newKey := cluster.NewSecretsKey(), cluster.NewSecretsKey()
	old := mustKeyring(t, oldKey)
	check := old.Check()
	for _, c := range []struct {
		name string
		k    *cluster.Keyring
		ok   bool
	}{
		{"its key", old, true},
		{"rotating: new first", mustKeyring(t, newKey+","+oldKey), true},
		{"another key", mustKeyring(t, newKey), false},
		{"no keyring", nil, false},
	} {
		if id, ok := c.k.Verify(check); ok != c.ok || id != old.ID() {
			t.Errorf("%s: Verify = %s, %v; want %s, %v", c.name, id, ok, old.ID(), c.ok)
		}
	}
	err := cluster.WrongSecretsKey("data file /x/ls.db", old.ID(), cluster.SecretsKeyVar, "/x/ls.db.key")
	for _, want := range []string{cluster.SecretsKeyVar, old.ID(), "/x/ls.db.key", "data file /x/ls.db"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("WrongSecretsKey = %v; want it to name %s", err, want)
		}
	}
}

// TestEnvRecords: the records of an app and a revision hold the env names
// and no value; they decode to the values; a plaintext record (of a
// release before encryption) decodes as it is and is resealed; rotation
// reseals only what another key sealed.
func TestEnvRecords(t *testing.T) {
	oldKey, newKey := cluster.NewSecretsKey(), cluster.NewSecretsKey()
	old, both := mustKeyring(t, oldKey), mustKeyring(t, newKey+","+oldKey)
	app := &cluster.App{Name: "a.example.com", Envs: map[string]string{"DB_PASSWORD": "hunter2-pw", "EMPTY": "", "EQ": "a=b"}, Revision: 3}
	rev := &cluster.Revision{App: app.Name, Number: 3, Envs: app.EnvList(), Status: cluster.StatusSucceeded}

	appRec, err := old.EncodeApp(app)
	if err != nil {
		t.Fatal(err)
	}
	revRec, err := old.EncodeRevision(rev)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range [][]byte{appRec, revRec} {
		for _, v := range []string{"hunter2-pw", "a=b"} {
			if bytes.Contains(rec, []byte(v)) {
				t.Fatalf("record holds the value %q: %s", v, rec)
			}
		}
		if !bytes.Contains(rec, []byte("DB_PASSWORD")) || !bytes.Contains(rec, []byte(`"envs_sealed":1`)) {
			t.Fatalf("record lacks the name or the marker: %s", rec)
		}
	}
	gotApp, err := both.DecodeApp(appRec)
	if err != nil || gotApp.Envs["DB_PASSWORD"] != "hunter2-pw" || gotApp.Envs["EQ"] != "a=b" || gotApp.Envs["EMPTY"] != "" || gotApp.Revision != 3 {
		t.Fatalf("DecodeApp = %+v, %v", gotApp, err)
	}
	if out, _ := json.Marshal(gotApp); bytes.Contains(out, []byte("envs_sealed")) {
		t.Fatalf("a decoded app carries the marker: %s", out)
	}
	gotRev, err := old.DecodeRevision(revRec)
	if err != nil || strings.Join(gotRev.Envs, " ") != "DB_PASSWORD=hunter2-pw EMPTY= EQ=a=b" {
		t.Fatalf("DecodeRevision = %+v, %v", gotRev, err)
	}
	if _, err := mustKeyring(t, newKey).DecodeApp(appRec); err == nil || !strings.Contains(err.Error(), old.ID()) {
		t.Fatalf("decoding without the key: %v; want the key id %s named", err, old.ID())
	}
	if _, err := (*cluster.Keyring)(nil).EncodeApp(app); err == nil {
		t.Fatal("a nil keyring wrote a record")
	}

	// A plaintext record: read as it is, even without a keyring; sealed by Reseal.
	plain, _ := json.Marshal(app)
	if a, err := (*cluster.Keyring)(nil).DecodeApp(plain); err != nil || a.Envs["DB_PASSWORD"] != "hunter2-pw" {
		t.Fatalf("plaintext record: %+v, %v", a, err)
	}
	// A value that looks sealed in a record without the marker is a value.
	looks, _ := json.Marshal(&cluster.App{Name: app.Name, Envs: map[string]string{"K": old.ID() + ":AAAA"}})
	if a, err := old.DecodeApp(looks); err != nil || a.Envs["K"] != old.ID()+":AAAA" {
		t.Fatalf("a plaintext value that looks sealed: %+v, %v", a, err)
	}
	sealed, changed, err := old.Reseal(cluster.RecordApp, plain)
	if err != nil || !changed || bytes.Contains(sealed, []byte("hunter2-pw")) {
		t.Fatalf("Reseal of a plaintext app = %s, %v, %v", sealed, changed, err)
	}
	if _, changed, _ := old.Reseal(cluster.RecordApp, sealed); changed {
		t.Fatal("Reseal changed a record sealed with the first key")
	}
	for _, c := range []struct {
		kind string
		rec  []byte
	}{{cluster.RecordApp, appRec}, {cluster.RecordRevision, revRec}} {
		out, changed, err := both.Reseal(c.kind, c.rec)
		if err != nil || !changed {
			t.Fatalf("rotating %s: %v, %v", c.kind, changed, err)
		}
		if _, err := mustKeyring(t, newKey).DecodeApp(out); c.kind == cluster.RecordApp && err != nil {
			t.Fatalf("the rotated app does not open with the new key alone: %v", err)
		}
		if _, err := mustKeyring(t, newKey).DecodeRevision(out); c.kind == cluster.RecordRevision && err != nil {
			t.Fatalf("the rotated revision does not open with the new key alone: %v", err)
		}
	}
	if out, changed, err := both.Reseal(cluster.RecordHost, []byte(`{"addr":"10.0.0.1"}`)); changed || err != nil || string(out) != `{"addr":"10.0.0.1"}` {
		t.Fatal("Reseal changed a host record")
	}
}

// TestEnvValueMovedDoesNotOpen: a sealed value copied into another env or
// app does not open there.
func TestEnvValueMovedDoesNotOpen(t *testing.T) {
	k := mustKeyring(t, cluster.NewSecretsKey())
	rec, _ := k.EncodeApp(&cluster.App{Name: "a.example.com", Envs: map[string]string{"A": "1", "B": "2"}})
	var raw map[string]any
	json.Unmarshal(rec, &raw)
	envs := raw["envs"].(map[string]any)
	envs["B"] = envs["A"]
	moved, _ := json.Marshal(raw)
	if _, err := k.DecodeApp(moved); err == nil {
		t.Fatal("a value moved to another env opened")
	}
	raw["name"] = "b.example.com"
	envs["B"] = envs["A"]
	other, _ := json.Marshal(raw)
	if _, err := k.DecodeApp(other); err == nil {
		t.Fatal("a value moved to another app opened")
	}
}
