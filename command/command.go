// Package command holds the wiring of longshoreman's daemons and tools, one
// file per command in the style of litestream's cmd/: serve (the
// controller), router, token and migrate, with the settings table they
// share (config.go) and its loader (settings.go). Each command is a value
// (ServeCommand, RouterCommand, ...) whose Run the program's main.go calls,
// and which tests run in-process. Nothing in the project imports this
// package but main.go and tests: it is the one place that knows every
// adapter (docs/design.md, "Layout").
package command

import (
	"errors"

	"github.com/longshoreman/longshoreman/cluster"
)

// ErrorText is what a person sees of an error: the message of a
// *cluster.Error, or the error's own text.
func ErrorText(err error) string {
	var e *cluster.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}
