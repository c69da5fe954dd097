package command

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// RestoreCommand copies a backup into a store a controller then runs on:
// as `migrate --force` does for a backup taken with keys; for one taken
// without, keeping the keys the target holds (or, with --new-keys, leaving
// them to be generated anew).
type RestoreCommand struct {
	Stdout io.Writer
	Getenv func(string) string
}

// Run parses [--new-keys] BACKUP TO and restores.
func (c *RestoreCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("longshoreman restore", flag.ContinueOnError)
	newKeys := fs.Bool("new-keys", false, "for a backup taken without keys onto a store that holds none (a new one): start with new keys")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Restore a backup (longshoreman backup, GET /backup) into TO, a data file path or
an etcd URL (etcd://HOST:PORT[,HOST:PORT...]/PREFIX, with the LONGSHOREMAN_ETCD_*
settings as for migrate), replacing everything TO holds. Stop the controllers of
TO first; start them once it is done: they continue the backup's cluster.

A backup taken without keys (the default) restores onto the store whose keys
to keep: TO keeps its routes key, router token and ACME accounts, and each
certificate its key when TO holds the same certificate. Onto a store that holds
no keys (a new one) it is refused unless --new-keys: a controller started on TO
then generates a new routes key and router token (every router needs them) and
orders its ACME certificates again; certificates of your own are added again
with certs:add. A backup taken with keys (--with-keys) restores as it is.

Usage: longshoreman restore [--new-keys] BACKUP TO

`)
		fs.PrintDefaults()
	}
	from, to, err := copyArgs(fs, args, "BACKUP", "restore a copy of the backup onto the data file or etcd prefix to replace.")
	if err != nil {
		return err
	}
	src, keyless, err := openSource(from, "BACKUP", c.Getenv)
	if err != nil {
		return err
	}
	defer src.Close()
	var keys cluster.Keys
	if keyless && !*newKeys {
		if keys, err = targetKeys(to, c.Getenv); err != nil {
			return fmt.Errorf("reading TO's keys: %w", err)
		}
		if keys.Empty() {
			return cluster.Errorf(cluster.ECONFLICT, "%s was taken without keys and %s holds none to keep (it is new, or no controller ran on it): "+
				"restore it onto the data file or etcd prefix whose keys to keep, or restore a backup taken with keys (`longshoreman backup --with-keys`), "+
				"or give --new-keys to start with new ones (every router then needs the new routes key and router token, unless the controllers take them from LONGSHOREMAN_ROUTES_KEY and LONGSHOREMAN_ROUTER_TOKEN).", from, to)
		}
	}
	dst, err := openRecords(to, true, c.Getenv)
	if err != nil {
		return fmt.Errorf("opening TO: %w", err)
	}
	defer dst.Close()
	res, done, err := restore(src, dst, keyless, keys, fmt.Sprintf("restore of %s at %s", from, time.Now().UTC().Format(time.RFC3339)))
	if err != nil {
		return err
	}
	c.report(from, to, res, done, keyless, *newKeys, keys)
	return nil
}

// report says what was restored and what became of the keys.
func (c *RestoreCommand) report(from, to string, res migration, done cluster.Restored, keyless, newKeys bool, keys cluster.Keys) {
	fmt.Fprintf(c.Stdout, "Restored %s onto %s: %d apps, %d hosts, %d revisions, %d instances, %d registries, %d certificates, %d tokens (cluster %s).\n",
		from, to, res.copied[cluster.RecordApp], res.copied[cluster.RecordHost], res.copied[cluster.RecordRevision],
		res.copied[cluster.RecordInstance], res.copied[cluster.RecordRegistry], res.copied[cluster.RecordCert], res.copied[cluster.RecordToken], res.cluster)
	switch {
	case !keyless:
		fmt.Fprintf(c.Stdout, "The backup holds its keys: %s now holds them.\n", to)
	case newKeys:
		fmt.Fprintf(c.Stdout, "The backup holds no keys and --new-keys was given: a controller started on %s generates a new routes key and router token "+
			"(unless LONGSHOREMAN_ROUTES_KEY and LONGSHOREMAN_ROUTER_TOKEN give them) and registers a new ACME account. "+
			"Give every router the new routes key and router token (`longshoreman token --routes-key` and `--router` print them once it started).\n", to)
	default:
		held, lacking := keys.Held()
		fmt.Fprintf(c.Stdout, "The backup holds no keys: %s keeps its own (%s).", to, strings.Join(held, ", "))
		if len(lacking) > 0 {
			fmt.Fprintf(c.Stdout, " It holds no %s: a controller started on it makes them, or takes them from its environment.", strings.Join(lacking, " nor "))
		}
		fmt.Fprintln(c.Stdout)
	}
	if s := done.String(); s != "" {
		fmt.Fprintln(c.Stdout, s)
	}
	fmt.Fprintln(c.Stdout, res.keyNote(to))
}

// keysOmitted reports whether the records are a backup taken without keys.
func keysOmitted(s cluster.RecordStore) (bool, error) {
	found := false
	err := s.Records(func(r cluster.Record) error {
		found = found || r.Kind == cluster.RecordMeta && r.Key == cluster.MetaKeysOmitted
		return nil
	})
	return found, err
}

// targetKeys reads the keys dsn holds, opened read-only; a store that does
// not exist holds none.
func targetKeys(dsn string, getenv func(string) string) (cluster.Keys, error) {
	var keys cluster.Keys
	s, err := openRecords(dsn, false, getenv)
	if cluster.ErrorCode(err) == cluster.ENOTFOUND {
		return keys, nil
	} else if err != nil {
		return keys, err
	}
	defer s.Close()
	return keys, s.Records(keys.Add)
}

// restore copies src into dst, replacing everything dst holds. A backup
// taken without keys (keyless) is copied with keys.Restore, and dst's key
// records are kept as they are: keys holds them (empty with --new-keys, so
// that dst's are deleted too).
func restore(src, dst cluster.RecordStore, keyless bool, keys cluster.Keys, begun string) (migration, cluster.Restored, error) {
	var done cluster.Restored
	if !keyless {
		res, err := migrate(src, dst, true, begun)
		return res, done, err
	}
	from := recordsFunc{RecordStore: src, records: func(fn func(cluster.Record) error) error {
		return src.Records(func(r cluster.Record) error {
			out, ok, err := keys.Restore(r, &done)
			if err != nil || !ok {
				return err
			}
			return fn(out)
		})
	}}
	// migrate deletes what dst holds that the backup does not: dst's keys
	// are hidden from it, so they stay.
	into := recordsFunc{RecordStore: dst, records: func(fn func(cluster.Record) error) error {
		return dst.Records(func(r cluster.Record) error {
			if cluster.IsKeyRecord(r) && !keys.Empty() {
				return nil
			}
			return fn(r)
		})
	}}
	res, err := migrate(from, into, true, begun)
	return res, done, err
}

// recordsFunc is a RecordStore whose Records is records.
type recordsFunc struct {
	cluster.RecordStore
	records func(func(cluster.Record) error) error
}

func (s recordsFunc) Records(fn func(cluster.Record) error) error { return s.records(fn) }
