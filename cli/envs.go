package cli

import (
	"context"
	"fmt"
	"net/url"

	"github.com/longshoreman/longshoreman/cluster"
	api "github.com/longshoreman/longshoreman/http"
)

// runEnvs prints KEY=value lines.
func runEnvs(ctx context.Context, c *Call) error {
	var out api.EnvsResponse
	err := c.get(ctx, appPath(c.App, "envs"), &out)
	return c.lines(err, out.Envs, "")
}

// runEnvsSet checks every KEY=value first, then sets them one by one; a
// deployed app is restarted (with zero downtime) for each.
func runEnvsSet(ctx context.Context, c *Call) error {
	for _, kv := range c.Args {
		if _, _, err := cluster.ParseEnv(kv); err != nil {
			return err
		}
	}
	for _, kv := range c.Args {
		key, _, _ := cluster.ParseEnv(kv)
		res, err := c.rollout(ctx, request{method: "POST", path: appPath(c.App, "envs"), body: api.SetEnvRequest{Env: kv}})
		if err != nil {
			return fmt.Errorf("setting %s: %w", key, err)
		}
		c.envDone("Set "+key+" on "+c.App, res)
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

// runEnvsRemove removes each KEY; a deployed app is restarted for each.
func runEnvsRemove(ctx context.Context, c *Call) error {
	for _, key := range c.Args {
		if err := cluster.ValidateEnvKey(key); err != nil {
			return err
		}
	}
	for _, key := range c.Args {
		res, err := c.rollout(ctx, request{method: "DELETE", path: appPath(c.App, "envs/"+url.PathEscape(key))})
		if err != nil {
			return fmt.Errorf("removing %s: %w", key, err)
		}
		c.envDone("Removed "+key+" from "+c.App, res)
	}
	return nil
}
