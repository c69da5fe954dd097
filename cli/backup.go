package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
)

// BackupCommand saves a copy of the controller's data file.
type BackupCommand struct{ *Env }

// Run streams GET /backup into a temporary file beside FILE, and renames it
// to FILE once complete, so FILE is never a partial copy.
func (c *BackupCommand) Run(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("backup", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	if err := needArgs("backup", pos, 1, 1, "one file to write"); err != nil {
		return err
	}
	path := pos[0]
	cl, err := c.Client()
	if err != nil {
		return err
	}
	resp, cancel, err := cl.send(ctx, request{method: "GET", path: "/backup", accept: "application/octet-stream", long: true})
	if err != nil {
		return err
	}
	defer cancel()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err := cl.answerError(resp.StatusCode, b); err != nil {
			return err
		}
		return fmt.Errorf("the controller at %s answered /backup with status %d", cl.URL, resp.StatusCode)
	}
	var n int64
	err = writeFileAtomic(path, 0o600, func(w io.Writer) error {
		var err error
		if n, err = io.Copy(w, resp.Body); err != nil {
			return fmt.Errorf("the backup transfer from %s broke after %d bytes (%v); %s was not written", cl.URL, n, err, path)
		}
		if resp.ContentLength >= 0 && n != resp.ContentLength {
			return fmt.Errorf("the backup transfer from %s ended after %d of %d bytes; %s was not written", cl.URL, n, resp.ContentLength, path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Wrote %s (%d bytes). A controller started with --db %s serves this state.\n", path, n, path)
	return nil
}

// Usage describes backup.
func (c *BackupCommand) Usage() string {
	return `Save a consistent copy of the controller's data file, taken while it runs.
FILE is written only once the copy is complete (through a temporary file
beside it), and readable by its owner only: it holds the API token.

Usage: longshoreman backup FILE
`
}
