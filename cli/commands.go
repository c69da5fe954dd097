package cli

import (
	"context"
	"flag"
)

// CommandsCommand lists the verbs.
type CommandsCommand struct{ *Env }

// Run prints each verb with a line about it.
func (c *CommandsCommand) Run(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("commands", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	if err := needArgs("commands", pos, 0, 0, "no arguments"); err != nil {
		return err
	}
	writeVerbs(c.Stdout)
	return nil
}

// Usage describes commands.
func (c *CommandsCommand) Usage() string {
	return `List the commands. "longshoreman COMMAND -h" tells more about one.

Usage: longshoreman commands
`
}
