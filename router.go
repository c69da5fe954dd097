package main

import (
	"context"
	"io"
)

// RouterCommand runs an HTTP router fed by the routing table over Redis.
type RouterCommand struct {
	Stderr io.Writer
	Getenv func(string) string
}

// Run parses flags and runs the router until ctx ends.
func (c *RouterCommand) Run(ctx context.Context, args []string) error {
	return nil
}
