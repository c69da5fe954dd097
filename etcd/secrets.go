package etcd

import (
	"fmt"
	"strings"

	"github.com/longshoreman/longshoreman/cluster"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// openSecrets checks the keys given (Config.SecretsKey) against the
// prefix's check. A prefix keeps no key of its own: an open for writing
// without keys is refused. A prefix without a check (new, or written by
// a release before encryption) gets one sealed with the first key, in a
// write that fails when another controller wrote its own meanwhile, and
// then has its plaintext records sealed. A read-only open without keys
// that open the check reads everything but env values; a migrate
// target's needs none (records are copied as they are).
func (s *Store) openSecrets() error {
	if s.cfg.MigrateTarget {
		return nil
	}
	var ring *cluster.Keyring
	if strings.TrimSpace(s.cfg.SecretsKey) != "" {
		var err error
		if ring, err = cluster.ParseKeyring(s.cfg.SecretsKey); err != nil {
			return err
		}
	}
	if s.cfg.ReadOnly {
		check, err := s.readMeta(cluster.MetaSecretsCheck)
		if err != nil {
			return err
		}
		if _, ok := ring.Verify([]byte(check)); ok {
			s.setKeyring(ring)
		}
		return nil
	}
	claimed := false
	err := s.update(func(t *txn) error {
		check, err := t.get(s.metaKey(cluster.MetaSecretsCheck))
		if err != nil {
			return err
		}
		id, ok := ring.Verify(check)
		switch {
		case check == nil && ring == nil:
			return cluster.MissingSecretsKey(s.where(), "", "")
		case check == nil:
			t.put(s.metaKey(cluster.MetaSecretsCheck), ring.Check())
			claimed = true
		case ring == nil:
			return cluster.MissingSecretsKey(s.where(), id, "")
		case !ok:
			return cluster.WrongSecretsKey(s.where(), id, cluster.SecretsKeyVar, "")
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.setKeyring(ring)
	// A prefix with a check has its env values sealed; the token and the
	// registries' passwords of the release that sealed only those are
	// sealed at its first open here.
	s.envKey.Sealed, err = s.sealAll(claimed)
	return err
}

func (s *Store) setKeyring(ring *cluster.Keyring) {
	s.keyring = ring
	s.envKey = cluster.EnvKeyInfo{ID: ring.ID(), IDs: ring.IDs(), Source: cluster.SecretsKeyVar}
}

// EnvKey says which key seals the env values and what the open did.
func (s *Store) EnvKey() cluster.EnvKeyInfo { return s.envKey }

// RotateEnvKey seals every env value with the first key, in writes of at
// most cluster.RecordBatch records, then the check: until the check is
// written, the prefix opens only with the old key in the ring too. It
// implements cluster.EnvKeyStore.
func (s *Store) RotateEnvKey() (int, error) {
	if s.keyring == nil {
		return 0, cluster.Errorf(cluster.EINVALID, "The %s was opened without the key of its env values: give it in %s.", s.where(), cluster.SecretsKeyVar)
	}
	return s.sealAll(true)
}

// sealAll seals anew every app, revision and registry record that is not
// sealed with the first key, each write guarded by the records it read
// (another writer's record is read and sealed again); then the API token
// and the check. Without all, it seals only the registry records and the
// token in plaintext (those of a release that sealed env values only), and
// writes no check.
func (s *Store) sealAll(all bool) (int, error) {
	seal := s.keyring.Reseal
	kinds := []string{cluster.RecordRegistry}
	if all {
		kinds = append(kinds, cluster.RecordApp, cluster.RecordRevision)
	} else {
		seal = s.keyring.SealPlaintext
	}
	todo, err := s.toSeal(kinds, seal)
	if err != nil {
		return 0, err
	}
	sealed, err := s.sealRecords(todo, seal)
	if err != nil {
		return sealed, err
	}
	tokenSealed, err := s.sealToken(all)
	return sealed + tokenSealed, err
}

// sealFunc seals a record of a kind: the value to write, and whether it
// differs from the one read.
type sealFunc func(kind string, value []byte) ([]byte, bool, error)

// unsealed is a record sealFunc changes.
type unsealed struct {
	key  string
	kind string
	size int
}

// toSeal lists the records of kinds that seal changes.
func (s *Store) toSeal(kinds []string, seal sealFunc) ([]unsealed, error) {
	var todo []unsealed
	for _, kind := range kinds {
		err := s.scan(s.key(kind, ""), 100, func(key string, value []byte) error {
			_, changed, err := seal(kind, value)
			if err != nil {
				return fmt.Errorf("sealing %s: %w", key, err)
			}
			if changed {
				todo = append(todo, unsealed{key, kind, len(value)})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return todo, nil
}

// sealRecords seals todo in batches, each a Txn guarded by the records it
// read, and returns how many records it wrote.
func (s *Store) sealRecords(todo []unsealed, seal sealFunc) (int, error) {
	sealed := 0
	for len(todo) > 0 {
		n, size := 0, 0
		for n < len(todo) && n < cluster.RecordBatch && (n == 0 || size+2*todo[n].size < cluster.RecordBatchBytes) {
			size += 2 * todo[n].size // sealing grows a value by about a third
			n++
		}
		batch := todo[:n]
		todo = todo[n:]
		count := 0
		err := s.update(func(t *txn) error {
			count = 0
			for _, p := range batch {
				v, err := t.get(p.key)
				if err != nil || v == nil {
					return err // deleted meanwhile: nothing to seal
				}
				out, changed, err := seal(p.kind, v)
				if err != nil {
					return fmt.Errorf("sealing %s: %w", p.key, err)
				}
				if changed {
					t.put(p.key, out)
					count++
				}
			}
			return nil
		})
		if err != nil {
			return sealed, err
		}
		sealed += count
	}
	return sealed, nil
}

// sealToken seals the API token (one in plaintext; with all, also one
// sealed with another key) and, with all, writes the check. It returns 1
// when it sealed the token.
func (s *Store) sealToken(all bool) (int, error) {
	tokenSealed := 0
	err := s.update(func(t *txn) error {
		tokenSealed = 0
		plain, err := t.get(s.metaKey(cluster.MetaToken))
		if err != nil {
			return err
		}
		var old []byte
		if all {
			if old, err = t.get(s.metaKey(cluster.MetaTokenSealed)); err != nil {
				return err
			}
		}
		token, changed, err := s.keyring.ResealToken(plain, old)
		if err != nil {
			return fmt.Errorf("sealing the API token: %w", err)
		}
		if changed {
			t.put(s.metaKey(cluster.MetaTokenSealed), token)
			t.del(s.metaKey(cluster.MetaToken))
			tokenSealed = 1
		}
		if all {
			t.put(s.metaKey(cluster.MetaSecretsCheck), s.keyring.Check())
		}
		return nil
	})
	return tokenSealed, err
}

// scan calls fn with every key under prefix and its value, read at one
// revision in pages of page keys.
func (s *Store) scan(prefix string, page int64, fn func(key string, value []byte) error) error {
	start, end := prefix, clientv3.GetPrefixRangeEnd(prefix)
	var rev int64
	for {
		ctx, cancel := s.callContext()
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(page), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.client.Get(ctx, start, opts...)
		cancel()
		if err != nil {
			return s.unavailable(etcdErr(err))
		}
		rev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			if err := fn(string(kv.Key), kv.Value); err != nil {
				return err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}
