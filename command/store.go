package command

import (
	"io"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/etcd"
)

// OpenStore opens the store LONGSHOREMAN_DB names: an etcd prefix for an
// etcd:// or etcds:// URL, a data file for anything else. create creates
// the cluster identity when there is none (--init). getenv gives the etcd
// TLS and user settings and LONGSHOREMAN_SECRETS_KEY.
func OpenStore(dsn string, create bool, getenv func(string) string) (cluster.Store, error) {
	return openStore(dsn, create, getenv(cluster.SecretsKeyVar), getenv)
}

// openStore is OpenStore with the keys of the env values given.
func openStore(dsn string, create bool, secretsKey string, getenv func(string) string) (cluster.Store, error) {
	if etcd.IsURL(dsn) {
		cfg, err := etcdConfig(dsn, getenv)
		if err != nil {
			return nil, err
		}
		cfg.Create, cfg.SecretsKey = create, secretsKey
		s, err := etcd.Open(cfg)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	d, err := db.Open(dsn, db.Options{Create: create, SecretsKey: secretsKey})
	if err != nil {
		return nil, err // not a typed nil in a non-nil interface
	}
	return d, nil
}

// etcdConfig parses an etcd URL and lets the store answer backups with a
// data file, written through package db.
func etcdConfig(dsn string, getenv func(string) string) (etcd.Config, error) {
	cfg, err := etcd.ParseURL(dsn, getenv)
	cfg.Backup = func(w io.Writer, records func(func(cluster.Record) error) error) (int64, error) {
		return db.WriteRecords(w, "", records)
	}
	return cfg, err
}
