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

// clientUsage is the part of the program's help about the client: its
// commands, grouped, and its shared options, written from the commands'
// declarations.
func clientUsage() string {
	return "\nCOMMAND is one of:\n\n" + cli.CommandList() + "\n" + cli.SharedOptions()
}
