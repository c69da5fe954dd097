package etcd

import (
	"encoding/json"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// Tokens live at P/tokens/<name>, JSON cluster.APIToken (the hash of the
// secret, never the secret).

func (s *Store) tokenKey(name string) string { return s.key(cluster.RecordToken, name) }

// readToken reads a token's record in x; ENOTFOUND when there is none.
func (s *Store) readToken(x *txn, name string) ([]byte, error) {
	buf, err := x.get(s.tokenKey(name))
	if err == nil && buf == nil {
		err = cluster.NoToken(name)
	}
	return buf, err
}

// CreateToken stores t, validated; ECONFLICT when its name is taken.
func (s *Store) CreateToken(t cluster.APIToken) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return s.update(func(x *txn) error {
		buf, err := x.get(s.tokenKey(t.Name))
		if err != nil {
			return err
		} else if buf != nil {
			return cluster.TokenTaken(t.Name)
		}
		kvs, err := x.listKeys(s.key(cluster.RecordToken, ""))
		if err != nil {
			return err
		} else if len(kvs) >= cluster.MaxTokens {
			return cluster.TooManyTokens()
		}
		return putJSON(x, s.tokenKey(t.Name), t)
	})
}

// DeleteToken removes a token; ENOTFOUND when there is none by that name.
// Every controller's next TokenByHash reads the store, so none accepts the
// token after this returns.
func (s *Store) DeleteToken(name string) error {
	return s.update(func(x *txn) error {
		if _, err := s.readToken(x, name); err != nil {
			return err
		}
		x.del(s.tokenKey(name))
		return nil
	})
}

// Tokens returns every token, sorted by name.
func (s *Store) Tokens() ([]cluster.APIToken, error) {
	var tokens []cluster.APIToken
	err := s.view(func(x *txn) error {
		tokens = []cluster.APIToken{}
		kvs, err := x.list(s.key(cluster.RecordToken, ""))
		for _, kv := range kvs {
			var t cluster.APIToken
			if err := json.Unmarshal(kv.Value, &t); err != nil {
				return err
			}
			tokens = append(tokens, t)
		}
		return err
	})
	return tokens, err
}

// TokenByHash returns the token whose hash is hash, read from etcd (a
// linearizable read); ENOTFOUND for none.
func (s *Store) TokenByHash(hash string) (*cluster.APIToken, error) {
	tokens, err := s.Tokens()
	if err != nil {
		return nil, err
	}
	return cluster.FindTokenByHash(tokens, hash)
}

// TouchToken records that the token was used at at; ENOTFOUND when it was
// deleted (the write is guarded by the record read, so a deletion between
// the two is not undone).
func (s *Store) TouchToken(name string, at time.Time) error {
	return s.update(func(x *txn) error {
		buf, err := s.readToken(x, name)
		if err != nil {
			return err
		}
		var t cluster.APIToken
		if err := json.Unmarshal(buf, &t); err != nil {
			return err
		}
		t.LastUsed = at.UTC()
		return putJSON(x, s.tokenKey(name), t)
	})
}
