package cli

import (
	"context"
	"flag"
	"fmt"
	"net/url"

	"github.com/longshoreman/longshoreman/cluster"
)

// EnvsCommand lists an app's env vars.
type EnvsCommand struct{ *Env }

// Run prints KEY=value lines.
func (c *EnvsCommand) Run(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("envs", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	app, err := c.needApp("envs")
	if err != nil {
		return err
	}
	if err := needArgs("envs", pos, 0, 0, "no arguments"); err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var out struct{ Envs []string }
	if err := cl.do(ctx, request{method: "GET", path: appPath(app, "envs")}, &out); err != nil {
		return err
	}
	for _, e := range out.Envs {
		fmt.Fprintln(c.Stdout, e)
	}
	return nil
}

// Usage describes envs.
func (c *EnvsCommand) Usage() string {
	return `List the app's env vars, one KEY=value a line.

Usage: longshoreman --app APP envs
`
}

// EnvsSetCommand sets env vars.
type EnvsSetCommand struct{ *Env }

// Run checks every KEY=value first, then sets them one by one; a deployed
// app is restarted (with zero downtime) for each.
func (c *EnvsSetCommand) Run(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("envs:set", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	app, err := c.needApp("envs:set")
	if err != nil {
		return err
	}
	if err := needArgs("envs:set", pos, 1, -1, "one or more KEY=value"); err != nil {
		return err
	}
	for _, kv := range pos {
		if _, _, err := cluster.ParseEnv(kv); err != nil {
			return err
		}
	}
	for _, kv := range pos {
		key, _, _ := cluster.ParseEnv(kv)
		res, err := c.rollout(ctx, request{method: "POST", path: appPath(app, "envs"), body: map[string]string{"env": kv}})
		if err != nil {
			return fmt.Errorf("setting %s: %w", key, err)
		}
		c.envDone("Set "+key+" on "+app, res)
	}
	return nil
}

// envDone reports an env change: a restart when the app runs, else just
// the change.
func (e *Env) envDone(what string, res *result) {
	if len(res.Instances) == 0 {
		fmt.Fprintf(e.Stdout, "%s.\n", what)
		return
	}
	printResult(e.Stdout, what+" (restarted)", res)
}

// Usage describes envs:set.
func (c *EnvsSetCommand) Usage() string {
	return `Set env vars of the app. A deployed app is restarted with the new value
(a new revision, with zero downtime), once per var.

Usage: longshoreman --app APP envs:set KEY=value [KEY=value...]
`
}

// EnvsRemoveCommand removes env vars.
type EnvsRemoveCommand struct{ *Env }

// Run removes each KEY; a deployed app is restarted for each.
func (c *EnvsRemoveCommand) Run(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("envs:rm", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	app, err := c.needApp("envs:rm")
	if err != nil {
		return err
	}
	if err := needArgs("envs:rm", pos, 1, -1, "one or more KEY"); err != nil {
		return err
	}
	for _, key := range pos {
		if err := cluster.ValidateEnvKey(key); err != nil {
			return err
		}
	}
	for _, key := range pos {
		res, err := c.rollout(ctx, request{method: "DELETE", path: appPath(app, "envs/"+url.PathEscape(key))})
		if err != nil {
			return fmt.Errorf("removing %s: %w", key, err)
		}
		c.envDone("Removed "+key+" from "+app, res)
	}
	return nil
}

// Usage describes envs:rm.
func (c *EnvsRemoveCommand) Usage() string {
	return `Remove env vars of the app (exactly the KEYs named). A deployed app is
restarted without them, once per var.

Usage: longshoreman --app APP envs:rm KEY [KEY...]
`
}
