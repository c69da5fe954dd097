package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// runBackup streams GET /backup (?keys=true with --with-keys) into a
// temporary file beside FILE, and renames it to FILE once complete, so FILE
// is never a partial copy.
func runBackup(ctx context.Context, c *Call) error {
	path := c.Args[0]
	cl, err := c.Client()
	if err != nil {
		return err
	}
	keys := c.Bool("with-keys")
	endpoint := "/backup"
	if keys {
		endpoint += "?keys=true"
	}
	resp, cancel, err := cl.send(ctx, request{method: "GET", path: endpoint, accept: "application/octet-stream", long: true})
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
	if keys {
		fmt.Fprintf(c.Stdout, "Wrote %s (%d bytes), with the private keys: keep it as private as they are. A controller started with --db %s serves this state.\n", path, n, path)
	} else {
		fmt.Fprintf(c.Stdout, "Wrote %s (%d bytes), without the private keys. Restore it with `longshoreman restore %s TO` onto the data file or etcd prefix whose keys to keep.\n", path, n, path)
	}
	return nil
}
