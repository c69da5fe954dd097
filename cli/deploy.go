package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	api "github.com/longshoreman/longshoreman/http"
)

// runDeploy deploys IMAGE and shows the progress. Flags left out are not
// sent: the controller applies the app's current values, else the defaults.
func runDeploy(ctx context.Context, c *Call) error {
	body := api.DeployRequest{Image: c.Args[0]}
	if n := c.Int("count"); n != 0 {
		body.Count = api.NewInt(n)
	}
	if p := c.Int("port"); p != 0 {
		body.Port = api.NewInt(p)
	}
	if h := c.String("healthcheck"); h != "" {
		body.HealthCheck = &cluster.HealthCheck{Path: h}
	}
	switch cmd := c.Strings("cmd"); {
	case len(cmd) == 1 && cmd[0] == "":
		body.Command = []string{} // back to the image's CMD
	case len(cmd) > 0:
		body.Command = cmd
	}
	switch {
	case c.Bool("release") && c.Rest == nil:
		return fmt.Errorf("deploy --release needs the release command after --, e.g. longshoreman --app %s deploy %s --release -- migrate --all (--release -- alone removes it)", c.App, c.Args[0])
	case c.Bool("release"):
		body.Release = c.Rest // empty: no release command any more
	case c.Rest != nil:
		return fmt.Errorf("deploy takes a command after -- only with --release: add --release to run %q before the new instances start, or --cmd ARG for the instances' command", strings.Join(c.Rest, " "))
	}
	err := deployLimits(c, &body)
	if err != nil {
		return err
	}
	if n := c.Int("batch"); n != 0 {
		body.Batch = api.NewInt(n)
	}
	if body.Wait, body.WaitTimeout, err = waitOptions(c); err != nil {
		return err
	}
	if err := deployPlacement(c, &body); err != nil {
		return err
	}
	if err := deployCanary(c, &body); err != nil {
		return err
	}
	res, err := c.rollout(ctx, request{method: "POST", path: appPath(c.App, "deploy"), body: body})
	if err != nil {
		return err
	}
	if body.Canary != nil {
		printResult(c.Stdout, fmt.Sprintf("Started %s as a canary of %s taking %d%% of its requests (promote or abort it)", c.Args[0], c.App, *body.Canary), res)
		return nil
	}
	printResult(c.Stdout, "Deployed "+c.Args[0]+" to "+c.App, res)
	return nil
}

// deployCanary sets the deploy's --canary, --canary-count, --canary-auto
// and --canary-max-errors; the controller checks their ranges.
func deployCanary(c *Call, body *api.DeployRequest) error {
	if n := c.Int("canary"); n != 0 {
		body.Canary = api.NewInt(n)
	}
	if n := c.Int("canary-count"); n != 0 {
		body.CanaryCount = api.NewInt(n)
	}
	if v := c.String("canary-auto"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("--canary-auto %q is not a duration: write it as 5m or 1h", v)
		}
		auto := cluster.Duration(d)
		body.CanaryAuto = &auto
	}
	if v := c.String("canary-max-errors"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("--canary-max-errors %q is not a number of percentage points: write it as 1 or 0.5", v)
		}
		body.CanaryMaxErrors = &f
	}
	return nil
}

// canaryNote says, under describe's table, that app runs a canary.
func canaryNote(cn *api.CanaryDescription, app string) string {
	note := fmt.Sprintf("%s runs a canary of revision %d since %s: %d%% of its clients, instances %s", app, cn.Revision,
		cn.Started.UTC().Format(time.RFC3339), cn.Weight, orNone(strings.Join(cn.Instances, ",")))
	switch {
	case cn.Promoting:
		note += "; being promoted"
	case cn.Auto > 0:
		note += fmt.Sprintf("; promoted by itself at %s", cn.Started.Add(cn.Auto.D()).UTC().Format(time.RFC3339))
	}
	return note + " (promote or abort it)\n"
}

// runPromote makes the app's canary its current revision.
func runPromote(ctx context.Context, c *Call) error {
	res, err := c.rollout(ctx, request{method: "POST", path: appPath(c.App, "promote")})
	if err != nil {
		return err
	}
	printResult(c.Stdout, "Promoted the canary of "+c.App, res)
	return nil
}

// runAbort removes the app's canary.
func runAbort(ctx context.Context, c *Call) error {
	res, err := c.rollout(ctx, request{method: "POST", path: appPath(c.App, "abort"), body: api.AbortRequest{Reason: c.String("reason")}})
	if err != nil {
		return err
	}
	printResult(c.Stdout, "Aborted the canary of "+c.App, res)
	return nil
}

// deployLimits sets the deploy's --memory and --cpus, as the API reads
// them, so a typo is caught before anything is sent.
func deployLimits(c *Call, body *api.DeployRequest) error {
	if m := c.String("memory"); m != "" {
		body.Memory = new(api.MemoryLimit)
		if err := body.Memory.UnmarshalJSON([]byte(strconv.Quote(m))); err != nil {
			return fmt.Errorf("--memory %v", err)
		}
	}
	if n := c.String("cpus"); n != "" {
		body.CPUs = new(api.CPULimit)
		if err := body.CPUs.UnmarshalJSON([]byte(strconv.Quote(n))); err != nil {
			return fmt.Errorf("--cpus %v", err)
		}
	}
	return nil
}

// deployPlacement sets the deploy's --volume, --host and --hold, checked
// as the API checks them. A flag given once, empty, clears the app's.
func deployPlacement(c *Call, body *api.DeployRequest) error {
	listed := func(vals []string) []string {
		switch {
		case len(vals) == 0:
			return nil // not sent: the app's
		case len(vals) == 1 && vals[0] == "":
			return []string{}
		}
		return vals
	}
	body.Volumes, body.Hosts = listed(c.Strings("volume")), listed(c.Strings("host"))
	if err := cluster.ValidateVolumes(body.Volumes); err != nil {
		return err
	}
	if _, err := cluster.ValidatePinned(body.Hosts); err != nil {
		return err
	}
	if h := c.String("hold"); h != "" {
		d, err := time.ParseDuration(h)
		if err != nil {
			return fmt.Errorf("--hold %q is not a duration: write it as 30s or 2m", h)
		}
		if err := cluster.ValidateHold(d); err != nil {
			return err
		}
		hold := cluster.Duration(d)
		body.Hold = &hold
	}
	return nil
}

// runRollback rolls back to REVISION, or to the previous succeeded one.
func runRollback(ctx context.Context, c *Call) error {
	body := api.RollbackRequest{Release: c.Bool("release")}
	var err error
	if body.Wait, body.WaitTimeout, err = waitOptions(c); err != nil {
		return err
	}
	if len(c.Args) == 1 {
		n, err := strconv.Atoi(c.Args[0])
		if err != nil || n <= 0 {
			return fmt.Errorf("rollback takes a revision number from longshoreman history, not %q", c.Args[0])
		}
		body.Revision = api.NewInt(n)
	}
	res, err := c.rollout(ctx, request{method: "POST", path: appPath(c.App, "rollback"), body: body})
	if err != nil {
		return err
	}
	printResult(c.Stdout, "Rolled back "+c.App, res)
	return nil
}

// runScale adds or drains instances until the app has N.
func runScale(ctx context.Context, c *Call) error {
	n, err := strconv.Atoi(c.Args[0])
	if err != nil || n < 0 {
		return fmt.Errorf("scale takes a whole number of instances, not %q", c.Args[0])
	}
	body := api.ScaleRequest{Count: api.NewInt(n)}
	if body.Wait, body.WaitTimeout, err = waitOptions(c); err != nil {
		return err
	}
	res, err := c.rollout(ctx, request{method: "POST", path: appPath(c.App, "scale"), body: body})
	if err != nil {
		return err
	}
	printResult(c.Stdout, "Scaled "+c.App, res)
	return nil
}
