package db

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	bolt "go.etcd.io/bbolt"
)

// KeyFile returns the path of the file beside a data file that holds the
// key of its env values when LONGSHOREMAN_SECRETS_KEY does not give it.
func KeyFile(path string) string { return path + ".key" }

// openSecrets finds the keyring of the file's env values: the keys given
// (LONGSHOREMAN_SECRETS_KEY), else the key file beside the data file. A
// file with a check is opened only with a keyring that opens it; a file
// without one (new, or of a release before encryption) takes the keys
// given, else its key file, else a key generated into a new key file, and
// has its check written and every plaintext record sealed in one
// transaction. A file with a check has the API token and the registry
// records of a release that sealed only env values sealed at its first
// open. A read-only open never writes, and without a keyring that opens
// the check it reads everything but env values, the API token and the
// registries' passwords.
func (db *DB) openSecrets(given string, readOnly bool) error {
	var check []byte
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		check = bytes.Clone(tx.Bucket(bucketMeta).Get([]byte(cluster.MetaSecretsCheck)))
		return nil
	}); err != nil {
		return err
	}
	ring, source, err := loadKeyring(given, KeyFile(db.path))
	if err != nil {
		return err
	}
	where := "data file " + db.path
	if check != nil {
		id, ok := ring.Verify(check)
		switch {
		case ok:
		case readOnly:
			ring = nil
		case ring == nil:
			return cluster.MissingSecretsKey(where, id, KeyFile(db.path))
		default:
			return cluster.WrongSecretsKey(where, id, source, KeyFile(db.path))
		}
	}
	if readOnly {
		db.setKeyring(ring, source)
		return nil
	}
	generated := false
	if ring == nil {
		if ring, err = generateKeyFile(KeyFile(db.path)); err != nil {
			return err
		}
		source, generated = KeyFile(db.path), true
	}
	db.setKeyring(ring, source)
	db.envKey.Generated = generated
	// A file with a check has its env values sealed; the token and the
	// registries' passwords of the release that sealed only those are
	// sealed at its first open here.
	err = db.update(func(tx *bolt.Tx) error {
		n, err := db.sealAll(tx, check == nil)
		db.envKey.Sealed = n
		return err
	})
	if err != nil || db.envKey.Sealed == 0 {
		return err
	}
	return db.rewrite()
}

// rewrite replaces the file with a copy of its records: bbolt keeps the
// pages a write freed as they were, so after plaintext records (env values,
// the API token, registries' passwords) were sealed their values would stay in the file until the pages are reused. The copy
// is written beside the file, synced, and renamed over it.
func (db *DB) rewrite() error {
	tmp := db.path + ".sealing"
	_ = os.Remove(tmp) // left by a crash during an earlier rewrite
	fail := func(err error) error {
		os.Remove(tmp)
		return cluster.Errorf(cluster.EINVALID, "Rewriting data file %s without its plaintext secrets failed (%v); its secrets are sealed, but the old plaintext may remain in its free pages: check the free space beside it and restart.", db.path, err)
	}
	dst, err := bolt.Open(tmp, 0o600, nil)
	if err != nil {
		return fail(err)
	}
	if err := bolt.Compact(dst, db.bolt, 1<<20); err != nil {
		dst.Close()
		return fail(err)
	}
	if err := dst.Close(); err != nil {
		return fail(err)
	}
	if err := db.bolt.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, db.path); err != nil {
		return fail(err)
	}
	if dir, err := os.Open(filepath.Dir(db.path)); err == nil {
		_ = dir.Sync()
		dir.Close()
	}
	b, err := openBolt(db.path, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return fail(err)
	}
	db.bolt = b
	return nil
}

// loadKeyring parses the keys given, else the key file's; nil when there
// are none. source says where they came from.
func loadKeyring(given, keyFile string) (*cluster.Keyring, string, error) {
	if strings.TrimSpace(given) != "" {
		ring, err := cluster.ParseKeyring(given)
		return ring, cluster.SecretsKeyVar, err
	}
	buf, err := os.ReadFile(keyFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil
	} else if err != nil {
		return nil, "", cluster.Errorf(cluster.EINVALID, "The key file %s cannot be read (%v): check its permissions, or give the key in %s.", keyFile, err, cluster.SecretsKeyVar)
	}
	ring, err := cluster.ParseKeyring(strings.TrimSpace(string(buf)))
	if err != nil {
		return nil, "", cluster.Errorf(cluster.EINVALID, "The key file %s does not hold a key: %s", keyFile, cluster.ErrorMessage(err))
	}
	return ring, keyFile, nil
}

// generateKeyFile writes a new key to path (0600, which must not exist)
// and syncs it and its directory before anything is sealed with it.
func generateKeyFile(path string) (*cluster.Keyring, error) {
	key := cluster.NewSecretsKey()
	fail := func(err error) (*cluster.Keyring, error) {
		return nil, cluster.Errorf(cluster.EINVALID, "Writing a new key for the env values to %s failed (%v): check that the directory is writable, or give a key in %s.", path, err, cluster.SecretsKeyVar)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fail(err)
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		_ = dir.Sync()
		dir.Close()
	}
	return cluster.ParseKeyring(key)
}

func (db *DB) setKeyring(ring *cluster.Keyring, source string) {
	db.keyring = ring
	if ring != nil {
		db.envKey = cluster.EnvKeyInfo{ID: ring.ID(), IDs: ring.IDs(), Source: source}
	}
}

// sealAll seals with the first key every app, revision and registry record
// and the API token not yet sealed with it, and writes the check; without
// all, only the registry records and the token in plaintext (those of a
// release that sealed env values only), and not the check. It returns how
// many records it sealed.
func (db *DB) sealAll(tx *bolt.Tx, all bool) (int, error) {
	type rec struct {
		b   *bolt.Bucket
		key []byte
		v   []byte
	}
	var todo []rec
	seal := db.keyring.Reseal
	if !all {
		seal = db.keyring.SealPlaintext
	}
	reseal := func(kind string, b *bolt.Bucket) error {
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out, changed, err := seal(kind, v)
			if err != nil {
				return fmt.Errorf("sealing %s %q: %w", kind, k, err)
			}
			if changed {
				todo = append(todo, rec{b, bytes.Clone(k), out})
			}
			return nil
		})
	}
	if err := reseal(cluster.RecordRegistry, tx.Bucket(bucketRegistries)); err != nil {
		return 0, err
	}
	if all {
		if err := reseal(cluster.RecordApp, tx.Bucket(bucketApps)); err != nil {
			return 0, err
		}
		revs := tx.Bucket(bucketRevisions)
		if err := revs.ForEachBucket(func(app []byte) error { return reseal(cluster.RecordRevision, revs.Bucket(app)) }); err != nil {
			return 0, err
		}
	}
	for _, r := range todo { // after the walks: a bucket is not written while walked
		if err := r.b.Put(r.key, r.v); err != nil {
			return 0, err
		}
	}
	n := len(todo)
	meta := tx.Bucket(bucketMeta)
	var sealed []byte
	if all {
		sealed = meta.Get([]byte(cluster.MetaTokenSealed))
	}
	token, changed, err := db.keyring.ResealToken(meta.Get([]byte(cluster.MetaToken)), sealed)
	if err != nil {
		return 0, fmt.Errorf("sealing the API token: %w", err)
	}
	if changed {
		n++
		if err := meta.Put([]byte(cluster.MetaTokenSealed), token); err != nil {
			return 0, err
		}
		if err := meta.Delete([]byte(cluster.MetaToken)); err != nil {
			return 0, err
		}
	}
	if !all {
		return n, nil
	}
	return n, meta.Put([]byte(cluster.MetaSecretsCheck), db.keyring.Check())
}

// EnvKey says which key seals the env values and what the open did.
func (db *DB) EnvKey() cluster.EnvKeyInfo { return db.envKey }

// RotateEnvKey seals every env value, and the check, with the first key,
// in one transaction. It implements cluster.EnvKeyStore.
func (db *DB) RotateEnvKey() (int, error) {
	if db.keyring == nil {
		return 0, cluster.Errorf(cluster.EINVALID, "Data file %s was opened without the key of its env values: give it in %s.", db.path, cluster.SecretsKeyVar)
	}
	var n int
	err := db.update(func(tx *bolt.Tx) error {
		var err error
		n, err = db.sealAll(tx, true)
		return err
	})
	return n, err
}
