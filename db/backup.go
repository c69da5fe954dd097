package db

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/longshoreman/longshoreman/cluster"
	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the data file to w: with keys the file
// as it is (WriteTo); without, a data file of its records with the private
// keys left out (cluster.WithoutKeys), built beside the data file in one
// read transaction and streamed once complete.
func (db *DB) Backup(w io.Writer, keys bool) (int64, error) {
	if keys {
		return db.WriteTo(w)
	}
	return WriteRecords(w, filepath.Dir(db.path), cluster.WithoutKeys(db.Records))
}

// WriteTo writes a consistent copy of the data file to w. It implements
// io.WriterTo.
//
// The copy is first taken into a temporary file beside the data file, in a
// read transaction that lasts only as long as a local file copy; then the
// transaction ends and the copy is streamed to w. Streaming inside the
// transaction would let a slow reader of w hold it for hours, and while a
// read transaction is open bbolt cannot remap the file when it grows, so
// every write, and after it every read, would wait for that reader.
func (db *DB) WriteTo(w io.Writer) (int64, error) {
	f, err := db.snapshot()
	if err != nil {
		return 0, err
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	return io.Copy(w, f)
}

// snapshot copies the data file into a new temporary file in its directory
// (same file system, so space for the data file means space for its copy)
// and returns it open at its start. The caller closes and removes it.
func (db *DB) snapshot() (*os.File, error) {
	f, err := os.CreateTemp(filepath.Dir(db.path), "."+filepath.Base(db.path)+".backup-*")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary file for the backup beside %s: %w", db.path, err)
	}
	// Where the system allows it, the name goes at once and the space with
	// the last descriptor, so a crash mid-download leaves no copy behind.
	_ = os.Remove(f.Name())
	fail := func(err error) (*os.File, error) {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(f)
		return err
	}); err != nil {
		return fail(fmt.Errorf("copying %s for the backup: %w", db.path, err))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	return f, nil
}
