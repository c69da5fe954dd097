package cli

import (
	"context"
	"flag"
	"fmt"
	"net/url"
)

// HostsCommand lists the hosts.
type HostsCommand struct{ *Env }

// Run prints one host address a line.
func (c *HostsCommand) Run(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("hosts", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	if err := needArgs("hosts", pos, 0, 0, "no arguments"); err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var out struct{ Hosts []string }
	if err := cl.do(ctx, request{method: "GET", path: "/hosts"}, &out); err != nil {
		return err
	}
	if len(out.Hosts) == 0 {
		fmt.Fprintln(c.Stderr, "No hosts yet: add one with longshoreman hosts:add IP.")
	}
	for _, h := range out.Hosts {
		fmt.Fprintln(c.Stdout, h)
	}
	return nil
}

// Usage describes hosts.
func (c *HostsCommand) Usage() string {
	return `List the hosts, one IP address a line. longshoreman status says which answer.

Usage: longshoreman hosts
`
}

// HostsAddCommand adds a host.
type HostsAddCommand struct{ *Env }

// Run adds the host; the controller may move instances onto it.
func (c *HostsAddCommand) Run(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("hosts:add", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	if err := needArgs("hosts:add", pos, 1, 1, "one host IP address"); err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	if err := cl.do(ctx, request{method: "POST", path: "/hosts", body: map[string]string{"host": pos[0]}, long: true}, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Added host %s.\n", pos[0])
	return nil
}

// Usage describes hosts:add.
func (c *HostsAddCommand) Usage() string {
	return `Add a host. Its Docker Engine API must answer on the controller's Docker
port (default 2375). Apps piled on fewer hosts than they could use are
spread onto it, one instance at a time.

Usage: longshoreman hosts:add IP
`
}

// HostsRemoveCommand drains and removes a host.
type HostsRemoveCommand struct{ *Env }

// Run drains the host and forgets it.
func (c *HostsRemoveCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hosts:rm", flag.ContinueOnError)
	force := fs.Bool("force", false, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := needArgs("hosts:rm", pos, 1, 1, "one host IP address"); err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	path := "/hosts/" + url.PathEscape(pos[0])
	if *force {
		path += "?force=true"
	}
	if err := cl.do(ctx, request{method: "DELETE", path: path, long: true}, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Removed host %s.\n", pos[0])
	return nil
}

// Usage describes hosts:rm.
func (c *HostsRemoveCommand) Usage() string {
	return `Remove a host: its instances are replaced on other hosts first, then it
is forgotten.

Usage: longshoreman hosts:rm IP [--force]

  --force   remove it even when it holds the last instances of an app
`
}
