package main

import (
	"context"
	"io"
	"os"

	"github.com/longshoreman/longshoreman/cli"
)

// runCLI runs a client verb; name is the first argument, which may be a
// shared option such as --app rather than the verb.
func runCLI(ctx context.Context, name string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return cli.Main(ctx, append([]string{name}, args...), stdin, stdout, stderr, os.Getenv)
}
