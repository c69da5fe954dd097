package cli

import (
	"context"
	"fmt"
	"net/url"

	api "github.com/longshoreman/longshoreman/http"
)

// runHosts prints one host address a line.
func runHosts(ctx context.Context, c *Call) error {
	var out api.HostsResponse
	err := c.get(ctx, "/hosts", &out)
	return c.lines(err, out.Hosts, "No hosts yet: add one with longshoreman hosts:add IP.")
}

// runHostsAdd adds the host; the controller may move instances onto it.
func runHostsAdd(ctx context.Context, c *Call) error {
	if err := c.change(ctx, request{method: "POST", path: "/hosts", body: api.AddHostRequest{Host: c.Args[0]}, long: true}); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Added host %s.\n", c.Args[0])
	return nil
}

// runHostsRemove drains the host and forgets it.
func runHostsRemove(ctx context.Context, c *Call) error {
	path := "/hosts/" + url.PathEscape(c.Args[0])
	if c.Bool("force") {
		path += "?force=true"
	}
	if err := c.change(ctx, request{method: "DELETE", path: path, long: true}); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Removed host %s.\n", c.Args[0])
	return nil
}
