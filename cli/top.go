package cli

import (
	"context"
	"fmt"
	"sort"
	"time"

	api "github.com/longshoreman/longshoreman/http"
)

// topEvery is how often top refreshes its table: about a router's
// summary interval.
const topEvery = 5 * time.Second

// topRow is one app's line of top.
type topRow struct {
	app string
	f   api.TrafficResponse
}

// runTop prints, every few seconds until interrupted (once with --once),
// the apps by requests per second over the last minute, with their error
// rate and latencies, from GET /apps/:app/traffic.
func runTop(ctx context.Context, c *Call) error {
	once := c.Bool("once")
	for {
		rows, err := c.topRows(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if !once {
			fmt.Fprint(c.Stdout, "\x1b[H\x1b[2J") // home, clear: a live table
			fmt.Fprintf(c.Stdout, "longshoreman top: the last minute, every %s (Ctrl-C to stop)  %s\n\n", topEvery, time.Now().Format("15:04:05"))
		}
		if err := printTop(c, rows); err != nil || once {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(topEvery):
		}
	}
}

// topRows reads each app's figures of the last minute, busiest first.
func (c *Call) topRows(ctx context.Context) ([]topRow, error) {
	var apps api.AppsResponse
	if err := c.get(ctx, "/apps", &apps); err != nil {
		return nil, err
	}
	rows := make([]topRow, 0, len(apps.Apps))
	for _, app := range apps.Apps {
		var f api.TrafficResponse
		if err := c.get(ctx, appPath(app, "traffic")+"?since=1m", &f); err != nil {
			return nil, err
		}
		rows = append(rows, topRow{app: app, f: f})
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].f.RPS != rows[j].f.RPS {
			return rows[i].f.RPS > rows[j].f.RPS
		}
		return rows[i].app < rows[j].app
	})
	return rows, nil
}

func printTop(c *Call, rows []topRow) error {
	tw := newTable(c.Stdout)
	fmt.Fprintln(tw, "APP\tREQ/S\tREQUESTS\tERRORS\tERROR %\tP50\tP95\tP99")
	if len(rows) == 0 {
		fmt.Fprintln(tw, "(none)\t\t\t\t\t\t\tdeploy one with longshoreman --app APP deploy IMAGE")
	}
	for _, r := range rows {
		f := r.f
		fmt.Fprintf(tw, "%s\t%.1f\t%d\t%d\t%.1f\t%s\t%s\t%s\n", r.app, f.RPS, f.Requests, f.Errors, 100*f.ErrorRate, millis(f.P50), millis(f.P95), millis(f.P99))
	}
	return tw.Flush()
}

// millis prints a latency in milliseconds, "-" without requests.
func millis(ms float64) string {
	switch {
	case ms == 0:
		return "-"
	case ms < 10:
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.0fms", ms)
}
