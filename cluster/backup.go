package cluster

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// The private keys of a store, and where its records hold them. A backup
// leaves them out unless asked for them (GET /backup?keys=true), so that
// reading the cluster's state is not reading its keys:
//   - every certificate's Key (records of kind RecordCert);
//   - the meta records MetaACMEAccounts (the ACME account keys),
//     MetaRoutesKey (signs the routing tables) and MetaRouterToken (reads
//     every certificate's key from GET /router/certs).
//
// The API token stays in every backup, encrypted (MetaTokenSealed, see
// secretseal.go): a restored controller given the key of the store's
// secrets answers the same operators. Registry credentials stay too, their
// passwords encrypted: a restored controller must pull the same images.
// Neither needs leaving out, since a backup never holds their key.
const (
	MetaRoutesKey    = "routes_key"
	MetaRouterToken  = "router_token"
	MetaACMEAccounts = "acme_accounts"
	// MetaKeysOmitted marks a backup taken without keys. A controller
	// refuses to run on a store holding it: `longshoreman restore` copies
	// the backup into a store, keeping that store's keys or, asked to,
	// leaving them to be generated anew.
	MetaKeysOmitted = "keys_omitted"
)

// keyMeta reports whether a meta record holds a private key.
func keyMeta(key string) bool {
	return key == MetaRoutesKey || key == MetaRouterToken || key == MetaACMEAccounts
}

// IsKeyRecord reports whether r is a meta record that holds a private key:
// one a backup without keys leaves out, and a restore of such a backup
// keeps from its target.
func IsKeyRecord(r Record) bool { return r.Kind == RecordMeta && keyMeta(r.Key) }

// WithoutKeys returns records with the private keys left out: the key meta
// records dropped, every certificate's Key emptied (its chain and state
// kept), and a MetaKeysOmitted record added at the end.
func WithoutKeys(records func(func(Record) error) error) func(func(Record) error) error {
	return func(fn func(Record) error) error {
		err := records(func(r Record) error {
			switch {
			case IsKeyRecord(r), r.Kind == RecordMeta && r.Key == MetaKeysOmitted:
				return nil
			case r.Kind == RecordCert:
				var c Cert
				if err := json.Unmarshal(r.Value, &c); err != nil {
					return fmt.Errorf("certificate record %s: %w", r.Key, err)
				}
				c.Key = ""
				buf, err := json.Marshal(c)
				if err != nil {
					return err
				}
				r.Value = buf
			}
			return fn(r)
		})
		if err != nil {
			return err
		}
		return fn(Record{Kind: RecordMeta, Key: MetaKeysOmitted, Value: []byte("certificate keys, ACME account keys, routes key, router token")})
	}
}

// KeysOmitted is the message of a store that holds a backup taken without
// keys: what it is, and how to make a store a controller runs on.
func KeysOmitted(where string) error {
	return Errorf(EINVALID, "The %s holds a backup taken without keys (GET /backup without ?keys=true): a controller does not run on it as it is. "+
		"Restore it with `longshoreman restore BACKUP TARGET` onto the data file or etcd prefix whose keys to keep (the one it replaces), "+
		"or onto a new one with --new-keys (then give every router the new routes key and router token).", where)
}

// Keys are the private keys a store holds, as read from its records for a
// restore: the key meta records, and each certificate's chain and key by
// domain.
type Keys struct {
	Meta  []Record
	Certs map[string]Cert // only Chain and Key are kept
}

// Add takes the keys of r, if it holds any.
func (k *Keys) Add(r Record) error {
	switch {
	case IsKeyRecord(r):
		k.Meta = append(k.Meta, r)
	case r.Kind == RecordCert:
		var c Cert
		if err := json.Unmarshal(r.Value, &c); err != nil {
			return fmt.Errorf("certificate record %s: %w", r.Key, err)
		}
		if c.Key != "" {
			if k.Certs == nil {
				k.Certs = map[string]Cert{}
			}
			k.Certs[r.Key] = Cert{Chain: c.Chain, Key: c.Key}
		}
	}
	return nil
}

// Empty reports whether k holds no key at all: the store is new, or no
// controller ran on it.
func (k Keys) Empty() bool { return len(k.Meta) == 0 && len(k.Certs) == 0 }

// Held names the key meta records k holds and those it lacks, in words.
func (k Keys) Held() (held, lacking []string) {
	names := []struct{ key, name string }{{MetaRoutesKey, "routes key"}, {MetaRouterToken, "router token"}, {MetaACMEAccounts, "ACME account keys"}}
	for _, n := range names {
		found := false
		for _, r := range k.Meta {
			found = found || r.Key == n.key
		}
		if found {
			held = append(held, n.name)
		} else {
			lacking = append(lacking, n.name)
		}
	}
	return held, lacking
}

// Restored is what restoring a backup without keys did to its
// certificates.
type Restored struct {
	Kept    []string // certificates whose key the target held (same chain)
	Missing []string // manual certificates without a key: to add again
	Reorder []string // ACME certificates without a key: ordered again
}

// Restore returns r as it is restored, from a backup without keys, onto a
// store holding k: the marker is dropped (ok false); a certificate takes
// the key k holds for the same domain and chain; one left without a key
// says so in its LastError, and an ACME one loses its chain too and is
// due at once.
// Other records are unchanged. What happened to each certificate is noted
// in done.
func (k Keys) Restore(r Record, done *Restored) (out Record, ok bool, err error) {
	switch {
	case r.Kind == RecordMeta && r.Key == MetaKeysOmitted:
		return r, false, nil
	case r.Kind != RecordCert:
		return r, true, nil
	}
	var c Cert
	if err := json.Unmarshal(r.Value, &c); err != nil {
		return r, false, fmt.Errorf("certificate record %s: %w", r.Key, err)
	}
	if c.Key != "" {
		return r, true, nil
	}
	switch held, found := k.Certs[r.Key]; {
	case found && c.Chain != "" && held.Chain == c.Chain:
		c.Key = held.Key
		done.Kept = append(done.Kept, c.Domain)
	case c.Source == CertManual:
		c.LastError = "Restored from a backup taken without keys: add this certificate again with certs:add."
		done.Missing = append(done.Missing, c.Domain)
	default:
		c.Chain, c.LastError, c.Failures, c.NextAttempt = "", "Restored from a backup taken without keys: ordered again.", 0, time.Time{}
		done.Reorder = append(done.Reorder, c.Domain)
	}
	buf, err := json.Marshal(c)
	if err != nil {
		return r, false, err
	}
	r.Value = buf
	return r, true, nil
}

// String says what happened to the certificates, one sentence per kind;
// "" when there were none.
func (d Restored) String() string {
	var parts []string
	say := func(list []string, what string) {
		if len(list) > 0 {
			sort.Strings(list)
			parts = append(parts, fmt.Sprintf(what, strings.Join(list, ", ")))
		}
	}
	say(d.Kept, "Certificates that keep the target's key: %s.")
	say(d.Missing, "Certificates of your own without a key, to add again with certs:add: %s.")
	say(d.Reorder, "ACME certificates without a key, ordered again by the leader: %s.")
	return strings.Join(parts, " ")
}
