package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"

	api "github.com/longshoreman/longshoreman/http"
)

// runStatus prints the controller's health, each host up or down, and
// each app's routed/desired instances.
func runStatus(ctx context.Context, c *Call) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var health api.HealthResponse
	// /healthz answers 503 with the same shape when the data file is not
	// usable; show it rather than stop at the error.
	resp, cancel, err := cl.send(ctx, request{method: "GET", path: "/healthz", limit: 2 * ReadTimeout})
	if err != nil {
		return err
	}
	err = decodeHealth(resp, &health)
	cancel()
	if err != nil {
		return fmt.Errorf("the controller at %s answered /healthz with something this client does not understand: %v", cl.URL, err)
	}
	desc, names, err := c.describeAll(ctx)
	if err != nil {
		return err
	}

	tw := newTable(c.Stdout)
	fmt.Fprintf(tw, "CONTROLLER\tDATA FILE\tREDIS\n%s\t%s\t%s\n\n", cl.URL, orNone(health.DB), orNone(health.Redis))
	hosts := make([]string, 0, len(health.Hosts))
	for h := range health.Hosts {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	fmt.Fprintln(tw, "HOST\tSTATE")
	if len(hosts) == 0 {
		fmt.Fprintln(tw, "(none)\tadd one with longshoreman hosts:add IP")
	}
	for _, h := range hosts {
		state := "up"
		if s := health.Hosts[h]; s != "ok" {
			state = "down: " + oneLine(s)
		}
		fmt.Fprintf(tw, "%s\t%s\n", h, state)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "APP\tREVISION\tIMAGE\tHEALTHY\tSTATE")
	if len(names) == 0 {
		fmt.Fprintln(tw, "(none)\t\t\t\tdeploy one with longshoreman --app APP deploy IMAGE")
	}
	for _, n := range names {
		d := desc[n]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\n", n, revOrNone(d.Revision), orNone(d.Image), len(d.Instances), d.Count, appState(d))
	}
	return tw.Flush()
}

func appState(d api.AppDescription) string {
	switch n := len(d.Instances); {
	case d.Revision == 0:
		return "not deployed"
	case d.Count == 0:
		return "stopped"
	case n >= d.Count:
		return "ok"
	case n == 0:
		return "down"
	default:
		return "degraded"
	}
}

// decodeHealth decodes a /healthz answer of any status.
func decodeHealth(resp *http.Response, out any) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}
