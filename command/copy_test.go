package command_test

import (
	"context"
	"io"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/command"
)

// TestCopyRefusesItsOwnTarget: migrate and restore refuse a source that is
// also the target, each naming its source as its usage does, before any
// store is opened.
func TestCopyRefusesItsOwnTarget(t *testing.T) {
	getenv := func(string) string { return "" }
	for _, c := range []struct {
		name string
		run  func(context.Context, []string) error
		want string
	}{
		{"migrate", (&command.MigrateCommand{Stdout: io.Discard, Getenv: getenv}).Run,
			"FROM and TO are both same.db: give another target."},
		{"restore", (&command.RestoreCommand{Stdout: io.Discard, Getenv: getenv}).Run,
			"BACKUP and TO are both same.db: restore a copy of the backup onto the data file or etcd prefix to replace."},
	} {
		if err := c.run(context.Background(), []string{"same.db", "same.db"}); cluster.ErrorCode(err) != cluster.EINVALID || cluster.ErrorMessage(err) != c.want {
			t.Errorf("%s same.db same.db: %v, want %q", c.name, err, c.want)
		}
	}
}
