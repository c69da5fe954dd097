package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"
)

// DeployCommand deploys an image.
type DeployCommand struct{ *Env }

// Run deploys IMAGE and shows the progress.
func (c *DeployCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("deploy", flag.ContinueOnError)
	count := fs.Int("count", 0, "")
	port := fs.Int("port", 0, "")
	health := fs.String("healthcheck", "", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	app, err := c.needApp("deploy")
	if err != nil {
		return err
	}
	if err := needArgs("deploy", pos, 1, 1, "one image, such as registry.example.com/shop:1.4"); err != nil {
		return err
	}
	body := map[string]any{"image": pos[0]}
	if *count != 0 {
		body["count"] = *count
	}
	if *port != 0 {
		body["port"] = *port
	}
	if *health != "" {
		body["healthcheck"] = map[string]string{"path": *health}
	}
	res, err := c.rollout(ctx, request{method: "POST", path: appPath(app, "deploy"), body: body})
	if err != nil {
		return err
	}
	printResult(c.Stdout, "Deployed "+pos[0]+" to "+app, res)
	return nil
}

// Usage describes deploy.
func (c *DeployCommand) Usage() string {
	return `Deploy an image: start new instances, wait until they are healthy, route
them, then drain and stop the old ones. Progress is shown as it happens. If
a new instance fails, the old ones keep serving and the error says why.
Deploying an app that does not exist yet creates it.

Usage: longshoreman --app APP deploy IMAGE [--count N] [--port P] [--healthcheck PATH]

  --count N            instances to run (default: the app's current count, else 1)
  --port P             the port the app listens on in its container (default: current, else 3000)
  --healthcheck PATH   the path polled until it answers 2xx (default /ping)
`
}

// RollbackCommand deploys an earlier revision again.
type RollbackCommand struct{ *Env }

// Run rolls back to REVISION, or to the previous succeeded one.
func (c *RollbackCommand) Run(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("rollback", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	app, err := c.needApp("rollback")
	if err != nil {
		return err
	}
	if err := needArgs("rollback", pos, 0, 1, "at most one revision number"); err != nil {
		return err
	}
	body := map[string]any{}
	if len(pos) == 1 {
		n, err := strconv.Atoi(pos[0])
		if err != nil || n <= 0 {
			return fmt.Errorf("rollback takes a revision number from longshoreman history, not %q", pos[0])
		}
		body["revision"] = n
	}
	res, err := c.rollout(ctx, request{method: "POST", path: appPath(app, "rollback"), body: body})
	if err != nil {
		return err
	}
	printResult(c.Stdout, "Rolled back "+app, res)
	return nil
}

// Usage describes rollback.
func (c *RollbackCommand) Usage() string {
	return `Deploy an earlier revision again (its image, envs and count), as a new
revision. Without REVISION, the newest succeeded revision before the current.

Usage: longshoreman --app APP rollback [REVISION]
`
}

// ScaleCommand sets the instance count.
type ScaleCommand struct{ *Env }

// Run adds or drains instances until the app has N.
func (c *ScaleCommand) Run(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("scale", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	app, err := c.needApp("scale")
	if err != nil {
		return err
	}
	if err := needArgs("scale", pos, 1, 1, "one instance count"); err != nil {
		return err
	}
	n, err := strconv.Atoi(pos[0])
	if err != nil || n < 0 {
		return fmt.Errorf("scale takes a whole number of instances, not %q", pos[0])
	}
	res, err := c.rollout(ctx, request{method: "POST", path: appPath(app, "scale"), body: map[string]int{"count": n}})
	if err != nil {
		return err
	}
	printResult(c.Stdout, "Scaled "+app, res)
	return nil
}

// Usage describes scale.
func (c *ScaleCommand) Usage() string {
	return `Set the number of instances of the app's current revision: new ones are
started and routed, or surplus ones drained and stopped.

Usage: longshoreman --app APP scale N
`
}
