package cluster

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func certRecord(t *testing.T, c Cert) Record {
	t.Helper()
	buf, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return Record{Kind: RecordCert, Key: c.Domain, Value: buf}
}

func recordCert(t *testing.T, r Record) Cert {
	t.Helper()
	var c Cert
	if err := json.Unmarshal(r.Value, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestWithoutKeys: the key meta records are dropped, every certificate
// loses its key and nothing else, every other record passes as it is, and
// the marker comes last, once.
func TestWithoutKeys(t *testing.T) {
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	acme := Cert{Domain: "a.example.com", Source: CertACME, Chain: "chain-a", Key: "key-a", Issuer: "CA", NotAfter: at}
	in := []Record{
		{Kind: RecordMeta, Key: "token", Value: []byte("api-token")},
		{Kind: RecordMeta, Key: MetaRoutesKey, Value: []byte("routes")},
		{Kind: RecordMeta, Key: MetaRouterToken, Value: []byte("router")},
		{Kind: RecordMeta, Key: MetaACMEAccounts, Value: []byte(`{"https://ca/dir":{"key":"acct","url":"u"}}`)},
		{Kind: RecordMeta, Key: MetaKeysOmitted, Value: []byte("an older marker")},
		{Kind: RecordApp, Key: "a.example.com", Value: []byte(`{"name":"a.example.com"}`)},
		{Kind: RecordRegistry, Key: "r.example.com", Value: []byte(`{"registry":"r.example.com","username":"u","password":"p"}`)},
		certRecord(t, acme),
		{Kind: RecordInstance, Scope: "a.example.com", Key: "c1", Value: []byte(`{}`)},
	}
	var out []Record
	err := WithoutKeys(func(fn func(Record) error) error {
		for _, r := range in {
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	})(func(r Record) error { out = append(out, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, r := range out {
		kinds = append(kinds, r.Kind+"/"+r.Key)
	}
	want := []string{"meta/token", "apps/a.example.com", "registries/r.example.com", "certs/a.example.com", "instances/c1", "meta/" + MetaKeysOmitted}
	if !reflect.DeepEqual(kinds, want) {
		t.Fatalf("records %v, want %v", kinds, want)
	}
	stripped := acme
	stripped.Key = ""
	if got := recordCert(t, out[3]); !got.Equal(stripped) {
		t.Errorf("certificate %+v, want %+v", got, stripped)
	}
	for i, j := range map[int]int{0: 0, 1: 5, 2: 6, 4: 8} {
		if !reflect.DeepEqual(out[i], in[j]) {
			t.Errorf("record %d = %+v, want it unchanged: %+v", i, out[i], in[j])
		}
	}
}

// TestKeysRestore restores each kind of record of a backup without keys
// onto a store holding some keys.
func TestKeysRestore(t *testing.T) {
	var held Keys
	for _, r := range []Record{
		{Kind: RecordMeta, Key: "token", Value: []byte("api-token")},
		{Kind: RecordMeta, Key: MetaRoutesKey, Value: []byte("routes")},
		certRecord(t, Cert{Domain: "same.example.com", Source: CertACME, Chain: "chain-1", Key: "key-1"}),
		certRecord(t, Cert{Domain: "renewed.example.com", Source: CertACME, Chain: "chain-new", Key: "key-new"}),
		certRecord(t, Cert{Domain: "own.example.com", Source: CertManual, Chain: "chain-other", Key: "key-other"}),
		certRecord(t, Cert{Domain: "failed.example.com", Source: CertACME, LastError: "refused"}),
	} {
		if err := held.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if held.Empty() || len(held.Meta) != 1 || len(held.Certs) != 3 {
		t.Fatalf("keys held %+v: want the routes key and three certificates' keys", held)
	}
	if h, l := held.Held(); !reflect.DeepEqual(h, []string{"routes key"}) || !reflect.DeepEqual(l, []string{"router token", "ACME account keys"}) {
		t.Fatalf("Held = %v, %v", h, l)
	}
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		in   Cert
		want func(c Cert) bool
	}{
		{"same chain: the target's key", Cert{Domain: "same.example.com", Source: CertACME, Chain: "chain-1", NotAfter: at},
			func(c Cert) bool {
				return c.Key == "key-1" && c.Chain == "chain-1" && c.LastError == "" && c.NotAfter.Equal(at)
			}},
		{"renewed on the target since: ordered again", Cert{Domain: "renewed.example.com", Source: CertACME, Chain: "chain-old", Failures: 2, NextAttempt: at},
			func(c Cert) bool {
				return c.Key == "" && c.Chain == "" && c.Failures == 0 && c.NextAttempt.IsZero() && strings.Contains(c.LastError, "ordered again")
			}},
		{"the operator's, another chain on the target: to add again", Cert{Domain: "own.example.com", Source: CertManual, Chain: "chain-own", NotAfter: at},
			func(c Cert) bool {
				return c.Key == "" && c.Chain == "chain-own" && c.NotAfter.Equal(at) && strings.Contains(c.LastError, "certs:add")
			}},
		{"unknown to the target, the operator's", Cert{Domain: "new.example.org", Source: CertManual, Chain: "chain-n"},
			func(c Cert) bool { return c.Key == "" && strings.Contains(c.LastError, "certs:add") }},
		{"never issued, failed: ordered again", Cert{Domain: "failed.example.com", Source: CertACME, LastError: "refused", Failures: 3, NextAttempt: at},
			func(c Cert) bool { return c.Key == "" && c.Failures == 0 && c.NextAttempt.IsZero() }},
		{"a backup with its key: as it is", Cert{Domain: "kept.example.com", Source: CertManual, Chain: "c", Key: "k", Failures: 1},
			func(c Cert) bool { return c.Key == "k" && c.Failures == 1 && c.LastError == "" }},
	} {
		var done Restored
		out, ok, err := held.Restore(certRecord(t, tc.in), &done)
		if err != nil || !ok {
			t.Errorf("%s: ok %v, %v", tc.name, ok, err)
			continue
		}
		if got := recordCert(t, out); !tc.want(got) {
			t.Errorf("%s: restored as %+v", tc.name, got)
		}
	}

	var done Restored
	if _, ok, err := held.Restore(Record{Kind: RecordMeta, Key: MetaKeysOmitted, Value: []byte("x")}, &done); ok || err != nil {
		t.Errorf("the marker: ok %v, %v; want it dropped", ok, err)
	}
	app := Record{Kind: RecordApp, Key: "a.example.com", Value: []byte(`{"name":"a.example.com"}`)}
	if out, ok, err := held.Restore(app, &done); !ok || err != nil || !reflect.DeepEqual(out, app) {
		t.Errorf("an app: %+v, %v, %v; want it as it is", out, ok, err)
	}
	for _, c := range []Cert{
		{Domain: "same.example.com", Source: CertACME, Chain: "chain-1"},
		{Domain: "own.example.com", Source: CertManual, Chain: "chain-own"},
		{Domain: "renewed.example.com", Source: CertACME, Chain: "chain-old"},
	} {
		held.Restore(certRecord(t, c), &done)
	}
	want := "Certificates that keep the target's key: same.example.com. Certificates of your own without a key, to add again with certs:add: own.example.com. ACME certificates without a key, ordered again by the leader: renewed.example.com."
	if got := done.String(); got != want {
		t.Errorf("Restored says %q, want %q", got, want)
	}
	if _, _, err := held.Restore(Record{Kind: RecordCert, Key: "bad", Value: []byte("{")}, &done); err == nil || !strings.Contains(err.Error(), "bad") {
		t.Errorf("a certificate record that is not JSON: %v", err)
	}
}
