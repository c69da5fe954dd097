package command

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/etcd"
)

// MigrateCommand copies every record of one store into another: a data
// file to an etcd prefix or back (or file to file, etcd to etcd).
type MigrateCommand struct {
	Stdout io.Writer
	Getenv func(string) string
}

// Run parses [--force] FROM TO and copies.
func (c *MigrateCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("longshoreman migrate", flag.ContinueOnError)
	force := fs.Bool("force", false, "replace what the target holds (by default a target holding any app, host, registry, revision or instance is refused)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Copy every record (apps, hosts, revisions, instances, tasks, registry credentials,
the audit log, and the cluster id, controller id, token and keys) from one store to another, in
batches. FROM and TO are each a data file path or an etcd URL
(etcd://HOST:PORT[,HOST:PORT...]/PREFIX, etcds:// with LONGSHOREMAN_ETCD_CACERT,
_CERT, _KEY; LONGSHOREMAN_ETCD_USERNAME/_PASSWORD). Stop the controllers of FROM
first: what they write during the copy may be missed. A controller started on
TO continues the cluster: it adopts the running containers. TO is marked as
a copy in progress until its last record is written: a migrate cut short
leaves a target that serve refuses; run it again with --force to complete it.

Usage: longshoreman migrate [--force] FROM TO

`)
		fs.PrintDefaults()
	}
	from, to, err := copyArgs(fs, args, "FROM", "give another target.")
	if err != nil {
		return err
	}
	src, keyless, err := openSource(from, "FROM", c.Getenv)
	if err != nil {
		return err
	}
	defer src.Close()
	if keyless {
		return cluster.Errorf(cluster.EINVALID, "%s is a backup taken without keys: restore it with `longshoreman restore %s %s`, which keeps the keys TO holds.", from, from, to)
	}
	dst, err := openRecords(to, true, c.Getenv)
	if err != nil {
		return fmt.Errorf("opening TO: %w", err)
	}
	defer dst.Close()
	res, err := migrate(src, dst, *force, fmt.Sprintf("migrate from %s at %s", from, time.Now().UTC().Format(time.RFC3339)))
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Copied %d records from %s to %s: %d apps, %d hosts, %d revisions, %d instances, %d tasks, %d registries, %d tokens, %d audit entries, %d meta (cluster %s).\n",
		res.total(), from, to, res.copied[cluster.RecordApp], res.copied[cluster.RecordHost], res.copied[cluster.RecordRevision],
		res.copied[cluster.RecordInstance], res.copied[cluster.RecordTask], res.copied[cluster.RecordRegistry], res.copied[cluster.RecordToken], res.copied[cluster.RecordAudit], res.copied[cluster.RecordMeta], res.cluster)
	if res.deleted > 0 {
		fmt.Fprintf(c.Stdout, "Deleted %d records of %s that %s does not hold.\n", res.deleted, to, from)
	}
	fmt.Fprintln(c.Stdout, res.keyNote(to))
	return nil
}

// recordStore is a store opened for a copy.
type recordStore interface {
	cluster.RecordStore
	Close() error
}

// copyArgs parses the flags and the two arguments of a copy from one store
// to another: the source, which source names (FROM, BACKUP), and TO, which
// must be another store; same says what to do when it is not.
func copyArgs(fs *flag.FlagSet, args []string, source, same string) (from, to string, err error) {
	if err := fs.Parse(args); err != nil {
		return "", "", err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		verb := strings.TrimPrefix(fs.Name(), "longshoreman ")
		return "", "", cluster.Errorf(cluster.EINVALID, "%s needs two arguments, %s and TO (got %d).", verb, source, fs.NArg())
	}
	from, to = fs.Arg(0), fs.Arg(1)
	if from == to {
		return "", "", cluster.Errorf(cluster.EINVALID, "%s and TO are both %s: %s", source, from, same)
	}
	return from, to, nil
}

// openSource opens the source of a copy, which source names in errors,
// read-only, and reports whether it is a backup taken without keys.
func openSource(from, source string, getenv func(string) string) (recordStore, bool, error) {
	src, err := openRecords(from, false, getenv)
	if err != nil {
		return nil, false, fmt.Errorf("opening %s: %w", source, err)
	}
	keyless, err := keysOmitted(src)
	if err != nil {
		src.Close()
		return nil, false, fmt.Errorf("reading %s: %w", source, err)
	}
	return src, keyless, nil
}

// openRecords opens a store for `migrate`: the source read-only (a data
// file in use by a controller is refused), the target created when new.
func openRecords(dsn string, target bool, getenv func(string) string) (recordStore, error) {
	if etcd.IsURL(dsn) {
		cfg, err := etcdConfig(dsn, getenv)
		if err != nil {
			return nil, err
		}
		cfg.Create, cfg.ReadOnly, cfg.CompactInterval, cfg.MigrateTarget = target, !target, -1, target
		s, err := etcd.Open(cfg)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	d, err := db.Open(dsn, db.Options{Create: target, ReadOnly: !target, Timeout: time.Second, MigrateTarget: target})
	if err != nil {
		return nil, err
	}
	return d, nil
}

type migration struct {
	copied  map[string]int
	deleted int
	cluster string
	keyID   string // of the key the env values copied are encrypted with; "" for plaintext (an earlier release)
}

// keyNote says which key the target's controllers need for the env
// values copied, which travel encrypted and without their key.
func (m migration) keyNote(to string) string {
	if m.keyID == "" {
		return "The env values were not encrypted (a store of an earlier release): the first controller started on " + to + " encrypts them with its key."
	}
	file := ""
	if !etcd.IsURL(to) {
		file = " (or in " + db.KeyFile(to) + ")"
	}
	return fmt.Sprintf("The env values stay encrypted with key id %s: start the controllers of %s with that key in %s%s; it is not copied.", m.keyID, to, cluster.SecretsKeyVar, file)
}

func (m migration) total() int {
	n := 0
	for _, c := range m.copied {
		n += c
	}
	return n
}

func recordID(r cluster.Record) string { return r.Kind + "\x00" + r.Scope + "\x00" + r.Key }

// targetRecords returns the records dst holds, by recordID, as deletions
// (no value), but for the marker of an unfinished migrate. It refuses a
// target holding more than meta records unless force.
func targetRecords(dst cluster.RecordStore, force bool) (map[string]cluster.Record, error) {
	held := map[string]cluster.Record{}
	foreign, unfinished := 0, false
	if err := dst.Records(func(r cluster.Record) error {
		if r.Kind == cluster.RecordMeta && r.Key == cluster.MetaMigrating {
			unfinished = true
			return nil // removed last, not with the records src lacks
		}
		held[recordID(r)] = cluster.Record{Kind: r.Kind, Scope: r.Scope, Key: r.Key}
		if r.Kind != cluster.RecordMeta {
			foreign++
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading TO: %w", err)
	}
	if foreign > 0 && !force {
		if unfinished {
			return nil, cluster.Errorf(cluster.ECONFLICT, "TO holds %d records of a migrate that did not finish: run it again with --force to replace them and complete the copy.", foreign)
		}
		return nil, cluster.Errorf(cluster.ECONFLICT, "TO already holds %d records (apps, hosts, revisions, instances or registries): give an empty target, or --force to replace everything in it.", foreign)
	}
	return held, nil
}

// migrate copies every record of src into dst in batches within an etcd
// Txn's limits, then deletes the records dst held that src does not (the
// meta a new target was created with, or with force everything it held).
// The marker cluster.MetaMigrating (valued begun) is written into dst
// before anything else and removed last, so a copy cut short is refused
// by serve until a migrate completes it.
func migrate(src, dst cluster.RecordStore, force bool, begun string) (migration, error) {
	res := migration{copied: map[string]int{}}
	held, err := targetRecords(dst, force)
	if err != nil {
		return res, err
	}
	marker := cluster.Record{Kind: cluster.RecordMeta, Key: cluster.MetaMigrating}
	if err := dst.PutRecords([]cluster.Record{{Kind: marker.Kind, Key: marker.Key, Value: []byte(begun)}}); err != nil {
		return res, fmt.Errorf("writing TO: %w", err)
	}
	var batch []cluster.Record
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := dst.PutRecords(batch); err != nil {
			return fmt.Errorf("writing TO: %w", err)
		}
		batch, size = batch[:0], 0
		return nil
	}
	add := func(r cluster.Record) error {
		n := len(r.Kind) + len(r.Scope) + len(r.Key) + len(r.Value)
		if len(batch) >= cluster.RecordBatch || (size+n > cluster.RecordBatchBytes && len(batch) > 0) {
			if err := flush(); err != nil {
				return err
			}
		}
		batch, size = append(batch, r), size+n
		return nil
	}
	err = src.Records(func(r cluster.Record) error {
		if recordID(r) == recordID(marker) {
			// Opening FROM refuses a half-written copy; never copy its marker.
			return cluster.Errorf(cluster.EINVALID, "FROM is an unfinished copy of another migrate: complete that one first.")
		}
		delete(held, recordID(r))
		res.copied[r.Kind]++
		if r.Kind == cluster.RecordMeta && r.Key == "cluster" {
			res.cluster = string(r.Value)
		}
		if r.Kind == cluster.RecordMeta && r.Key == cluster.MetaSecretsCheck {
			res.keyID, _, _ = strings.Cut(string(r.Value), ":")
		}
		return add(r)
	})
	if err != nil {
		return res, fmt.Errorf("copying: %w", err)
	}
	for _, r := range held {
		res.deleted++
		if err := add(r); err != nil { // Value nil: a deletion
			return res, err
		}
	}
	if err := flush(); err != nil {
		return res, err
	}
	// Last: the target is now a whole copy.
	if err := dst.PutRecords([]cluster.Record{marker}); err != nil {
		return res, fmt.Errorf("completing TO: %w", err)
	}
	return res, nil
}
