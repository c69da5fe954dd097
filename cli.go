package main

import (
	"context"
	"fmt"
	"io"
)

func runCLI(ctx context.Context, name string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return fmt.Errorf("unknown command %q: run longshoreman help", name)
}
