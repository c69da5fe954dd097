package cli

import (
	"io"
	"text/tabwriter"
)

// newTable returns a tabwriter for aligned columns separated by two spaces.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
}

// orNone returns s, or "-" for an empty cell.
func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
