package cli

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	api "github.com/longshoreman/longshoreman/http"
)

// runInstances prints a table of the instances that serve traffic.
func runInstances(ctx context.Context, c *Call) error {
	var out api.InstancesResponse
	if err := c.get(ctx, appPath(c.App, "instances"), &out); err != nil {
		return err
	}
	if len(out.Instances) == 0 {
		fmt.Fprintf(c.Stderr, "%s has no routed instances.\n", c.App)
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

// runHistory prints a table of revisions, newest first; * marks the
// current one.
func runHistory(ctx context.Context, c *Call) error {
	var out api.HistoryResponse
	if err := c.get(ctx, appPath(c.App, "history"), &out); err != nil {
		return err
	}
	if len(out.History) == 0 {
		fmt.Fprintf(c.Stderr, "%s has not been deployed yet.\n", c.App)
		return nil
	}
	tw := newTable(c.Stdout)
	fmt.Fprintln(tw, "REVISION\tDEPLOYED\tIMAGE\tCOUNT\tLIMITS\tENVS\tSTATUS")
	for _, h := range out.History {
		rev := fmt.Sprint(h.Revision)
		if h.Current {
			rev += " *"
		}
		status := h.Status
		if h.Reason != "" {
			status += ": " + oneLine(h.Reason)
		}
		if h.OOMKills > 0 {
			status += fmt.Sprintf("; oom: %d killed for memory, the last at %s", h.OOMKills, time.Unix(h.LastOOM, 0).Format("2006-01-02 15:04:05"))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", rev, time.Unix(h.Timestamp, 0).Format("2006-01-02 15:04:05"), h.Image, h.Count, limits(h.Memory, h.CPUs), orNone(envKeys(h.Envs)), status)
	}
	return tw.Flush()
}

// limits writes a revision's memory and CPU limits ("256m/0.5cpu"), "-"
// for none.
func limits(mem cluster.Bytes, cpus float64) string {
	var parts []string
	if mem > 0 {
		parts = append(parts, mem.String())
	}
	if cpus > 0 {
		parts = append(parts, strconv.FormatFloat(cpus, 'f', -1, 64)+"cpu")
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "/")
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

// runKill stops every instance; the app's count becomes 0.
func runKill(ctx context.Context, c *Call) error {
	if err := c.change(ctx, request{method: "POST", path: appPath(c.App, "kill"), long: true}); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Stopped every instance of %s; start it again with longshoreman --app %s scale N.\n", c.App, c.App)
	return nil
}
