package db

import (
	"encoding/json"
	"strconv"

	"github.com/longshoreman/longshoreman/cluster"
	bolt "go.etcd.io/bbolt"
)

// Certs returns every certificate record, sorted by domain.
func (db *DB) Certs() ([]cluster.Cert, error) {
	certs := []cluster.Cert{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCerts)
		if b == nil { // a file opened read-only before its first writable open
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var c cluster.Cert
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			certs = append(certs, c)
			return nil
		})
	})
	return certs, err
}

// Cert returns the domain's certificate record, or an ENOTFOUND error.
func (db *DB) Cert(domain string) (*cluster.Cert, error) {
	var c *cluster.Cert
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		c, err = getCert(tx, domain)
		return err
	})
	return c, err
}

func getCert(tx *bolt.Tx, domain string) (*cluster.Cert, error) {
	c := &cluster.Cert{}
	if b := tx.Bucket(bucketCerts); b != nil {
		if ok, err := get(b, domain, c); err != nil || ok {
			return c, err
		}
	}
	return nil, cluster.Errorf(cluster.ENOTFOUND, "No certificate for %s", domain).WithFix("list them with", cluster.OpCerts)
}

// PutCert stores c under its domain, whatever it held. When its chain or
// key differ from the stored ones (none for a new record), the
// certificates' version rises, in the same transaction: a record of a
// failed first order changes nothing the routers hold.
func (db *DB) PutCert(c cluster.Cert) error {
	defer db.tableChanged()
	return db.update(func(tx *bolt.Tx) error {
		old, err := getCert(tx, c.Domain)
		if err != nil && cluster.ErrorCode(err) != cluster.ENOTFOUND {
			return err
		}
		return putCert(tx, old, &c)
	})
}

// ReplaceCert stores c (deletes the record when c is nil) when the
// domain's record still equals read (nil: none), in one transaction;
// otherwise it returns ECONFLICT and changes nothing.
func (db *DB) ReplaceCert(domain string, read, c *cluster.Cert) error {
	defer db.tableChanged()
	return db.update(func(tx *bolt.Tx) error {
		old, err := getCert(tx, domain)
		if err != nil && cluster.ErrorCode(err) != cluster.ENOTFOUND {
			return err
		}
		if !cluster.SameCert(old, read) {
			return cluster.CertChanged(domain)
		}
		if c == nil {
			return deleteCert(tx, domain)
		}
		return putCert(tx, old, c)
	})
}

// putCert writes c over old (nil: none), raising the certificates'
// version when the chain or key change.
func putCert(tx *bolt.Tx, old, c *cluster.Cert) error {
	if old == nil {
		old = &cluster.Cert{}
	}
	if old.Chain != c.Chain || old.Key != c.Key {
		if err := raiseCertsVersion(tx); err != nil {
			return err
		}
	}
	return put(tx.Bucket(bucketCerts), c.Domain, c)
}

// DeleteCert removes the domain's certificate record; an unknown one is
// no error.
func (db *DB) DeleteCert(domain string) error {
	defer db.tableChanged()
	return db.update(func(tx *bolt.Tx) error { return deleteCert(tx, domain) })
}

func deleteCert(tx *bolt.Tx, domain string) error {
	b := tx.Bucket(bucketCerts)
	if b.Get([]byte(domain)) == nil {
		return nil
	}
	if err := raiseCertsVersion(tx); err != nil {
		return err
	}
	return b.Delete([]byte(domain))
}

func raiseCertsVersion(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	v, _ := strconv.ParseUint(string(meta.Get(keyCertsVersion)), 10, 64)
	return meta.Put(keyCertsVersion, []byte(strconv.FormatUint(v+1, 10)))
}

// ACMEAccount returns the account stored for an ACME directory.
func (db *DB) ACMEAccount(directory string) (cluster.ACMEAccount, bool, error) {
	var accts map[string]cluster.ACMEAccount
	err := db.bolt.View(func(tx *bolt.Tx) error { return getMetaJSON(tx, keyACMEAccounts, &accts) })
	acct, ok := accts[directory]
	return acct, ok, err
}

// PutACMEAccount stores the account for an ACME directory.
func (db *DB) PutACMEAccount(directory string, acct cluster.ACMEAccount) error {
	return db.update(func(tx *bolt.Tx) error {
		accts := map[string]cluster.ACMEAccount{}
		if err := getMetaJSON(tx, keyACMEAccounts, &accts); err != nil {
			return err
		}
		accts[directory] = acct
		return put(tx.Bucket(bucketMeta), string(keyACMEAccounts), accts)
	})
}

// PutChallenge adds a pending HTTP-01 challenge to the routing table.
func (db *DB) PutChallenge(token, keyAuth string) error {
	return db.editChallenges(func(m map[string]string) { m[token] = keyAuth })
}

// DeleteChallenge removes a challenge from the routing table.
func (db *DB) DeleteChallenge(token string) error {
	return db.editChallenges(func(m map[string]string) { delete(m, token) })
}

func (db *DB) editChallenges(edit func(map[string]string)) error {
	defer db.tableChanged()
	return db.update(func(tx *bolt.Tx) error {
		m := map[string]string{}
		if err := getMetaJSON(tx, keyChallenges, &m); err != nil {
			return err
		}
		edit(m)
		if len(m) == 0 {
			return tx.Bucket(bucketMeta).Delete(keyChallenges)
		}
		return put(tx.Bucket(bucketMeta), string(keyChallenges), m)
	})
}

func getMetaJSON(tx *bolt.Tx, key []byte, v any) error {
	if buf := tx.Bucket(bucketMeta).Get(key); buf != nil {
		return json.Unmarshal(buf, v)
	}
	return nil
}

// EnsureRouterToken returns the stored router token, generating and
// storing one when there is none; created reports that it did.
func (db *DB) EnsureRouterToken() (string, bool, error) {
	var token string
	var created bool
	err := db.update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if t := meta.Get(keyRouterToken); t != nil {
			token = string(t)
			return nil
		}
		token, created = randomHex(24), true
		return meta.Put(keyRouterToken, []byte(token))
	})
	return token, created, err
}

// RouterToken returns the stored router token, or "" when none was made.
func (db *DB) RouterToken() (string, error) {
	var token string
	err := db.bolt.View(func(tx *bolt.Tx) error {
		token = string(tx.Bucket(bucketMeta).Get(keyRouterToken))
		return nil
	})
	return token, err
}

// tableChanged makes the next RoutingTable build the table anew: a write
// changed what it shows besides the instances.
func (db *DB) tableChanged() { db.tableGen.Add(1) }

// CertSet returns every issued certificate with the certificates' version,
// read in one transaction, as routers fetch them.
func (db *DB) CertSet() (cluster.CertSet, error) {
	set := cluster.CertSet{Certs: []cluster.CertBundle{}}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		set.Version, _ = strconv.ParseUint(string(tx.Bucket(bucketMeta).Get(keyCertsVersion)), 10, 64)
		b := tx.Bucket(bucketCerts)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var c cluster.Cert
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			if c.Issued() {
				set.Certs = append(set.Certs, cluster.CertBundle{Domain: c.Domain, Cert: c.Chain, Key: c.Key, NotAfter: c.NotAfter})
			}
			return nil
		})
	})
	return set, err
}
