package db

import (
	"encoding/json"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	bolt "go.etcd.io/bbolt"
)

// bucketTokens holds the API tokens, name -> cluster.APIToken JSON (the
// hash of the secret, never the secret).
var bucketTokens = []byte(cluster.RecordToken)

// CreateToken stores t, validated; ECONFLICT when its name is taken.
func (db *DB) CreateToken(t cluster.APIToken) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return db.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketTokens)
		if err != nil {
			return err
		}
		if b.Get([]byte(t.Name)) != nil {
			return cluster.TokenTaken(t.Name)
		}
		if b.Stats().KeyN >= cluster.MaxTokens {
			return cluster.TooManyTokens()
		}
		return put(b, t.Name, t)
	})
}

// DeleteToken removes a token; ENOTFOUND when there is none by that name.
func (db *DB) DeleteToken(name string) error {
	return db.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		if b == nil || b.Get([]byte(name)) == nil {
			return cluster.NoToken(name)
		}
		return b.Delete([]byte(name))
	})
}

// Tokens returns every token, sorted by name.
func (db *DB) Tokens() ([]cluster.APIToken, error) {
	tokens := []cluster.APIToken{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var t cluster.APIToken
			if err := json.Unmarshal(v, &t); err != nil {
				return err
			}
			tokens = append(tokens, t)
			return nil
		})
	})
	return tokens, err
}

// TokenByHash returns the token whose hash is hash; ENOTFOUND for none.
func (db *DB) TokenByHash(hash string) (*cluster.APIToken, error) {
	tokens, err := db.Tokens()
	if err != nil {
		return nil, err
	}
	return cluster.FindTokenByHash(tokens, hash)
}

// TouchToken records that the token was used at at; ENOTFOUND when it
// was deleted.
func (db *DB) TouchToken(name string, at time.Time) error {
	return db.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		var t cluster.APIToken
		if b == nil {
			return cluster.NoToken(name)
		}
		if found, err := get(b, name, &t); err != nil {
			return err
		} else if !found {
			return cluster.NoToken(name)
		}
		t.LastUsed = at.UTC()
		return put(b, name, t)
	})
}
