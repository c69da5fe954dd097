package db_test

import (
	"path/filepath"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/storetest"
)

// TestConformance holds the data file to the behaviour every store shares.
func TestConformance(t *testing.T) {
	storetest.RunConformance(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "longshoreman.db")
		return func(create bool) (cluster.Store, error) {
			d, err := db.Open(path, db.Options{Create: create, SecretsKey: storetest.SecretsKey})
			if err != nil {
				return nil, err // a nil *db.DB must not become a non-nil Store
			}
			return d, nil
		}
	})
}

// TestEnvKeyConformance holds the data file to the encryption of env
// values every store shares.
func TestEnvKeyConformance(t *testing.T) {
	storetest.RunEnvKeyConformance(t, func(t *testing.T) storetest.KeyedOpener {
		path := filepath.Join(t.TempDir(), "longshoreman.db")
		return func(key string) (cluster.Store, error) {
			d, err := db.Open(path, db.Options{Create: true, SecretsKey: key})
			if err != nil {
				return nil, err
			}
			return d, nil
		}
	})
}

// BenchmarkStore measures the data file with the same operations as the
// etcd store's BenchmarkStore.
func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, MustOpenDB(b))
}
