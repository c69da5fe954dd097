package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/longshoreman/longshoreman/cluster"
	api "github.com/longshoreman/longshoreman/http"
)

// settingsCommand is the settings verb: it shows the app's settings, or
// changes the ones given (stop timeout and drain take "default" for the
// controller's value).
var settingsCommand = &Command{Name: "settings", Group: groupDeploys, Run: runSettings, App: NeedsApp,
	Flags: []Flag{
		{Name: "batch", Value: "N", Help: "replace N instances at a time in deploys, rollbacks and env changes; 0: all at once"},
		{Name: "stop-timeout", Value: "D", Help: fmt.Sprintf(`time between SIGTERM and SIGKILL, in whole seconds ("30s"), or "default" (%s)`, cluster.DefaultStopTimeout)},
		{Name: "drain", Value: "D", Help: `wait between unrouting an instance and its SIGTERM ("5s"), or "default" (the controller's LONGSHOREMAN_DRAIN)`},
		{Name: "rate-limit", Value: "R", Help: `requests each client address may send, "10/s", "600/m" or "100/h", or "none"; the routers answer 429 beyond it`},
		{Name: "burst", Value: "N", Help: "requests a client may send at once before the rate applies (default: the rate's number)"},
		{Name: "max-body", Value: "SIZE", Help: `largest request body, "10m" or "512k", or "none"; the routers answer 413 beyond it`},
	},
	Summary: "show or change how the app is replaced, stopped and limited",
	Help: `Show the app's settings, or change the ones given: how many instances a
deploy replaces at a time (--batch), how long an instance has to stop
after SIGTERM (--stop-timeout), and how long the routers have to stop
sending it requests before that (--drain). They belong to the app, not
to a revision: a deploy or a rollback keeps them, and a change applies
from the next operation on.

The routers limit the app's requests with --rate-limit (per client
address, with --burst) and --max-body, as soon as they have the next
routing table.`,
}

func runSettings(ctx context.Context, c *Call) error {
	var body api.SettingsRequest
	changed := false
	if v := c.String("batch"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("--batch takes a whole number of instances (0: all at once), not %q", v)
		}
		body.Batch, changed = api.NewInt(n), true
	}
	for _, f := range []struct {
		flag string
		dst  **api.DurationSetting
	}{{"stop-timeout", &body.StopTimeout}, {"drain", &body.Drain}} {
		v := c.String(f.flag)
		if v == "" {
			continue
		}
		var d api.DurationSetting
		if err := d.UnmarshalJSON([]byte(strconv.Quote(v))); err != nil {
			return fmt.Errorf("--%s: %v", f.flag, err)
		}
		*f.dst, changed = &d, true
	}
	if v := c.String("rate-limit"); v != "" {
		r, err := cluster.ParseRate(v)
		if err != nil {
			return fmt.Errorf("--rate-limit %v", err)
		}
		body.RateLimit, changed = &r, true
	}
	if v := c.String("burst"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("--burst takes a whole number of requests, 1 or more, not %q", v)
		}
		body.Burst, changed = api.NewInt(n), true
	}
	if v := c.String("max-body"); v != "" {
		b, err := cluster.ParseMaxBody(v)
		if err != nil {
			return fmt.Errorf("--max-body %v", err)
		}
		limit := api.BodyLimit(b)
		body.MaxBody, changed = &limit, true
	}
	var out api.SettingsResponse
	var err error
	if changed {
		cl, cerr := c.Client()
		if cerr != nil {
			return cerr
		}
		err = cl.do(ctx, request{method: "POST", path: appPath(c.App, "settings"), body: body}, &out)
	} else {
		err = c.get(ctx, appPath(c.App, "settings"), &out)
	}
	if err != nil {
		return err
	}
	printSettings(c, out.Settings)
	return nil
}

// printSettings writes one setting a line, saying which are the
// controller's.
func printSettings(c *Call, s api.AppSettings) {
	tw := tabwriter.NewWriter(c.Stdout, 0, 0, 2, ' ', 0)
	batch := strconv.Itoa(s.Batch)
	if s.Batch == 0 {
		batch += " (all at once)"
	}
	fmt.Fprintf(tw, "batch\t%s\n", batch)
	fmt.Fprintf(tw, "stop-timeout\t%s\n", orDefault(s.StopTimeout, s.StopTimeoutDefault))
	fmt.Fprintf(tw, "drain\t%s\n", orDefault(s.Drain, s.DrainDefault))
	rate := s.RateLimit
	if rate != "none" && rate != "" {
		rate = fmt.Sprintf("%s per client address, %d at once", rate, s.Burst)
	}
	fmt.Fprintf(tw, "rate-limit\t%s\n", rate)
	fmt.Fprintf(tw, "max-body\t%s\n", s.MaxBody)
	tw.Flush()
}

func orDefault(v string, isDefault bool) string {
	if isDefault {
		return strings.TrimSpace(v + " (the controller's)")
	}
	return v
}
