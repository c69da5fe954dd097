package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// newTable returns a tabwriter for aligned columns separated by two spaces.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
}

// lines prints items one a line, or empty (when not "") on stderr when
// there are none; err, the error of the request that got items, comes
// first.
func (e *Env) lines(err error, items []string, empty string) error {
	if err != nil {
		return err
	}
	if len(items) == 0 && empty != "" {
		fmt.Fprintln(e.Stderr, empty)
	}
	for _, s := range items {
		fmt.Fprintln(e.Stdout, s)
	}
	return nil
}

// orNone returns s, or "-" for an empty cell.
func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
