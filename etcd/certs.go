package etcd

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/longshoreman/longshoreman/cluster"
)

// Meta keys of the certificates' state.
const (
	keyRouterToken  = "router_token"
	keyACMEAccounts = "acme_accounts"   // JSON: directory URL -> cluster.ACMEAccount
	keyChallenges   = "acme_challenges" // JSON: token -> key authorization
	keyCertsVersion = "certs_version"   // raised by every change of a chain or key
)

// Certs returns every certificate record, sorted by domain.
func (s *Store) Certs() ([]cluster.Cert, error) {
	certs := []cluster.Cert{}
	err := s.view(func(t *txn) error {
		certs = certs[:0]
		kvs, err := t.list(s.key(cluster.RecordCert, ""))
		for _, kv := range kvs {
			var c cluster.Cert
			if err := json.Unmarshal(kv.Value, &c); err != nil {
				return err
			}
			certs = append(certs, c)
		}
		return err
	})
	return certs, err
}

// Cert returns the domain's certificate record, or an ENOTFOUND error.
func (s *Store) Cert(domain string) (*cluster.Cert, error) {
	var c *cluster.Cert
	err := s.view(func(t *txn) error {
		var err error
		c, err = s.getCert(t, domain)
		return err
	})
	if cluster.ErrorCode(err) == cluster.ENOTFOUND {
		return nil, notFoundCert(domain)
	}
	return c, err
}

func (s *Store) getCert(t *txn, domain string) (*cluster.Cert, error) {
	buf, err := t.get(s.key(cluster.RecordCert, domain))
	if err != nil {
		return nil, err
	}
	if buf == nil {
		return nil, notFoundCert(domain)
	}
	c := &cluster.Cert{}
	return c, json.Unmarshal(buf, c)
}

func notFoundCert(domain string) error {
	return cluster.Errorf(cluster.ENOTFOUND, "No certificate for %s", domain).WithFix("list them with", cluster.OpCerts)
}

// PutCert stores c under its domain, whatever it held; when its chain or
// key differ from the stored ones, the certificates' version rises in the
// same Txn.
func (s *Store) PutCert(c cluster.Cert) error {
	return s.update(func(t *txn) error {
		old, err := s.getCert(t, c.Domain)
		if err != nil && cluster.ErrorCode(err) != cluster.ENOTFOUND {
			return err
		}
		return s.putCert(t, old, &c)
	})
}

// ReplaceCert stores c (deletes the record when c is nil) when the
// domain's record still equals read (nil: none), in one Txn guarded by
// the record's revision; otherwise it returns ECONFLICT and changes
// nothing.
func (s *Store) ReplaceCert(domain string, read, c *cluster.Cert) error {
	return s.update(func(t *txn) error {
		old, err := s.getCert(t, domain)
		if err != nil && cluster.ErrorCode(err) != cluster.ENOTFOUND {
			return err
		}
		if !cluster.SameCert(old, read) {
			return cluster.CertChanged(domain)
		}
		if c == nil {
			return s.deleteCert(t, domain)
		}
		return s.putCert(t, old, c)
	})
}

// putCert writes c over old (nil: none), raising the certificates'
// version when the chain or key change.
func (s *Store) putCert(t *txn, old, c *cluster.Cert) error {
	if old == nil {
		old = &cluster.Cert{}
	}
	if old.Chain != c.Chain || old.Key != c.Key {
		if err := s.raiseCertsVersion(t); err != nil {
			return err
		}
	}
	return putJSON(t, s.key(cluster.RecordCert, c.Domain), c)
}

// DeleteCert removes the domain's certificate record; an unknown one is no
// error.
func (s *Store) DeleteCert(domain string) error {
	return s.update(func(t *txn) error { return s.deleteCert(t, domain) })
}

func (s *Store) deleteCert(t *txn, domain string) error {
	buf, err := t.get(s.key(cluster.RecordCert, domain))
	if err != nil || buf == nil {
		return err
	}
	t.del(s.key(cluster.RecordCert, domain))
	return s.raiseCertsVersion(t)
}

func (s *Store) raiseCertsVersion(t *txn) error {
	buf, err := t.get(s.metaKey(keyCertsVersion))
	if err != nil {
		return err
	}
	v, _ := strconv.ParseUint(string(buf), 10, 64)
	t.put(s.metaKey(keyCertsVersion), []byte(strconv.FormatUint(v+1, 10)))
	return nil
}

// ACMEAccount returns the account stored for an ACME directory.
func (s *Store) ACMEAccount(directory string) (cluster.ACMEAccount, bool, error) {
	var accts map[string]cluster.ACMEAccount
	err := s.view(func(t *txn) error { return s.getMetaJSON(t, keyACMEAccounts, &accts) })
	acct, ok := accts[directory]
	return acct, ok, err
}

// PutACMEAccount stores the account for an ACME directory.
func (s *Store) PutACMEAccount(directory string, acct cluster.ACMEAccount) error {
	return s.update(func(t *txn) error {
		accts := map[string]cluster.ACMEAccount{}
		if err := s.getMetaJSON(t, keyACMEAccounts, &accts); err != nil {
			return err
		}
		accts[directory] = acct
		return putJSON(t, s.metaKey(keyACMEAccounts), accts)
	})
}

// PutChallenge adds a pending HTTP-01 challenge to the routing table.
func (s *Store) PutChallenge(token, keyAuth string) error {
	return s.editChallenges(func(m map[string]string) { m[token] = keyAuth })
}

// DeleteChallenge removes a challenge from the routing table.
func (s *Store) DeleteChallenge(token string) error {
	return s.editChallenges(func(m map[string]string) { delete(m, token) })
}

func (s *Store) editChallenges(edit func(map[string]string)) error {
	return s.update(func(t *txn) error {
		m := map[string]string{}
		if err := s.getMetaJSON(t, keyChallenges, &m); err != nil {
			return err
		}
		edit(m)
		if len(m) == 0 {
			t.del(s.metaKey(keyChallenges))
			return nil
		}
		return putJSON(t, s.metaKey(keyChallenges), m)
	})
}

func (s *Store) getMetaJSON(t *txn, name string, v any) error {
	buf, err := t.get(s.metaKey(name))
	if err != nil || buf == nil {
		return err
	}
	return json.Unmarshal(buf, v)
}

// EnsureRouterToken returns the stored router token, generating one when
// there is none; created reports that it did.
func (s *Store) EnsureRouterToken() (string, bool, error) { return s.ensureMeta(keyRouterToken, 24) }

// RouterToken returns the stored router token, or "".
func (s *Store) RouterToken() (string, error) { return s.readMeta(keyRouterToken) }

// tableKey reports whether a write to key changes the routing table
// besides the instances: an app (its HTTPS setting), a certificate, the
// challenges or the certificates' version.
func (s *Store) tableKey(key string) bool {
	return strings.HasPrefix(key, s.key(cluster.RecordApp, "")) || strings.HasPrefix(key, s.key(cluster.RecordCert, "")) ||
		key == s.metaKey(keyChallenges) || key == s.metaKey(keyCertsVersion)
}

// CertSet returns every issued certificate with the certificates' version,
// read at one revision, as routers fetch them.
func (s *Store) CertSet() (cluster.CertSet, error) {
	var set cluster.CertSet
	err := s.view(func(t *txn) error {
		set = cluster.CertSet{Certs: []cluster.CertBundle{}}
		v, err := t.get(s.metaKey(keyCertsVersion))
		if err != nil {
			return err
		}
		set.Version, _ = strconv.ParseUint(string(v), 10, 64)
		kvs, err := t.list(s.key(cluster.RecordCert, ""))
		for _, kv := range kvs {
			var c cluster.Cert
			if err := json.Unmarshal(kv.Value, &c); err != nil {
				return err
			}
			if c.Issued() {
				set.Certs = append(set.Certs, cluster.CertBundle{Domain: c.Domain, Cert: c.Chain, Key: c.Key, NotAfter: c.NotAfter})
			}
		}
		return err
	})
	return set, err
}
