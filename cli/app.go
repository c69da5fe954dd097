package cli

import (
	"context"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"
)

// InstancesCommand lists an app's routed instances.
type InstancesCommand struct{ *Env }

// Run prints a table of the instances that serve traffic.
func (c *InstancesCommand) Run(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("instances", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	app, err := c.needApp("instances")
	if err != nil {
		return err
	}
	if err := needArgs("instances", pos, 0, 0, "no arguments"); err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var out struct{ Instances []string }
	if err := cl.do(ctx, request{method: "GET", path: appPath(app, "instances")}, &out); err != nil {
		return err
	}
	if len(out.Instances) == 0 {
		fmt.Fprintf(c.Stderr, "%s has no routed instances.\n", app)
		return nil
	}
	tw := newTable(c.Stdout)
	fmt.Fprintln(tw, "INSTANCE\tHOST\tPORT")
	for _, i := range out.Instances {
		host, port, err := net.SplitHostPort(i)
		if err != nil {
			host, port = i, "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", i, host, port)
	}
	return tw.Flush()
}

// Usage describes instances.
func (c *InstancesCommand) Usage() string {
	return `List the app's instances that serve traffic (healthy and routed).

Usage: longshoreman --app APP instances
`
}

// HistoryCommand lists an app's revisions.
type HistoryCommand struct{ *Env }

// Run prints a table of revisions, newest first; * marks the current one.
func (c *HistoryCommand) Run(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("history", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	app, err := c.needApp("history")
	if err != nil {
		return err
	}
	if err := needArgs("history", pos, 0, 0, "no arguments"); err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var out struct {
		History []struct {
			Revision  int
			Timestamp int64
			Image     string
			Count     int
			Status    string
			Reason    string
			Envs      []string
			Current   bool
		}
	}
	if err := cl.do(ctx, request{method: "GET", path: appPath(app, "history")}, &out); err != nil {
		return err
	}
	if len(out.History) == 0 {
		fmt.Fprintf(c.Stderr, "%s has not been deployed yet.\n", app)
		return nil
	}
	tw := newTable(c.Stdout)
	fmt.Fprintln(tw, "REVISION\tDEPLOYED\tIMAGE\tCOUNT\tENVS\tSTATUS")
	for _, h := range out.History {
		rev := fmt.Sprint(h.Revision)
		if h.Current {
			rev += " *"
		}
		status := h.Status
		if h.Reason != "" {
			status += ": " + oneLine(h.Reason)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", rev, time.Unix(h.Timestamp, 0).Format("2006-01-02 15:04:05"), h.Image, h.Count, orNone(envKeys(h.Envs)), status)
	}
	return tw.Flush()
}

// Usage describes history.
func (c *HistoryCommand) Usage() string {
	return `List the app's revisions, newest first: when, what image and envs (their
keys; longshoreman envs shows values), how many instances, and the outcome.
The current revision is marked with *. Roll back with longshoreman rollback.

Usage: longshoreman --app APP history
`
}

// envKeys returns the keys of KEY=value strings, comma-separated.
func envKeys(envs []string) string {
	keys := make([]string, len(envs))
	for i, e := range envs {
		keys[i], _, _ = strings.Cut(e, "=")
	}
	return strings.Join(keys, ",")
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}

// LogsCommand prints an app's last log lines.
type LogsCommand struct{ *Env }

// Run prints the last lines of every instance, each prefixed with it.
func (c *LogsCommand) Run(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("logs", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	app, err := c.needApp("logs")
	if err != nil {
		return err
	}
	if err := needArgs("logs", pos, 0, 0, "no arguments"); err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var out struct{ Logs []string }
	if err := cl.do(ctx, request{method: "GET", path: appPath(app, "logs"), limit: 2 * ReadTimeout}, &out); err != nil {
		return err
	}
	for _, l := range out.Logs {
		fmt.Fprintln(c.Stdout, l)
	}
	return nil
}

// Usage describes logs.
func (c *LogsCommand) Usage() string {
	return `Print the last log lines of every instance of the app, each line prefixed
with its instance's address.

Usage: longshoreman --app APP logs
`
}

// KillCommand stops an app.
type KillCommand struct{ *Env }

// Run stops every instance; the app's count becomes 0.
func (c *KillCommand) Run(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("kill", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	app, err := c.needApp("kill")
	if err != nil {
		return err
	}
	if err := needArgs("kill", pos, 0, 0, "no arguments"); err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	if err := cl.do(ctx, request{method: "POST", path: appPath(app, "kill"), long: true}, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Stopped every instance of %s; start it again with longshoreman --app %s scale N.\n", app, app)
	return nil
}

// Usage describes kill.
func (c *KillCommand) Usage() string {
	return `Stop every instance of the app: they are unrouted, then stopped. Its
count becomes 0; its image, envs and history stay.

Usage: longshoreman --app APP kill
`
}
