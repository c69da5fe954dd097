package cli

import (
	"context"
	"flag"
	"fmt"
)

// AppsCommand lists the apps.
type AppsCommand struct{ *Env }

// Run prints one app name a line.
func (c *AppsCommand) Run(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("apps", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	if err := needArgs("apps", pos, 0, 0, "no arguments"); err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var out struct{ Apps []string }
	if err := cl.do(ctx, request{method: "GET", path: "/apps"}, &out); err != nil {
		return err
	}
	if len(out.Apps) == 0 {
		fmt.Fprintln(c.Stderr, "No apps yet: add one with longshoreman apps:add APP, or deploy one with longshoreman --app APP deploy IMAGE.")
	}
	for _, a := range out.Apps {
		fmt.Fprintln(c.Stdout, a)
	}
	return nil
}

// Usage describes apps.
func (c *AppsCommand) Usage() string {
	return `List the apps, one domain name a line.

Usage: longshoreman apps
`
}

// AppsAddCommand adds an app.
type AppsAddCommand struct{ *Env }

// Run adds the app named by the argument (or --app).
func (c *AppsAddCommand) Run(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("apps:add", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	if len(pos) == 0 && c.App != "" {
		pos = []string{c.App}
	}
	if err := needArgs("apps:add", pos, 1, 1, "one app name (a domain name such as shop.example.com)"); err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	if err := cl.do(ctx, request{method: "POST", path: "/apps", body: map[string]string{"app": pos[0]}}, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Added app %s.\n", pos[0])
	return nil
}

// Usage describes apps:add.
func (c *AppsAddCommand) Usage() string {
	return `Add an app. Adding an app that exists already does nothing.

Usage: longshoreman apps:add APP

APP is the domain name the routers serve it on, such as shop.example.com.
`
}

// AppsRemoveCommand removes an app.
type AppsRemoveCommand struct{ *Env }

// Run stops the app's instances and forgets it.
func (c *AppsRemoveCommand) Run(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("apps:rm", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	if len(pos) == 0 && c.App != "" {
		pos = []string{c.App}
	}
	if err := needArgs("apps:rm", pos, 1, 1, "one app name"); err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	if err := cl.do(ctx, request{method: "DELETE", path: appPath(pos[0], ""), long: true}, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Removed app %s.\n", pos[0])
	return nil
}

// Usage describes apps:rm.
func (c *AppsRemoveCommand) Usage() string {
	return `Remove an app: unroute and stop every instance of it, and forget its
envs and history.

Usage: longshoreman apps:rm APP
`
}
