package cli

import (
	"context"
	"fmt"

	api "github.com/longshoreman/longshoreman/http"
)

// runApps prints one app name a line.
func runApps(ctx context.Context, c *Call) error {
	var out api.AppsResponse
	err := c.get(ctx, "/apps", &out)
	return c.lines(err, out.Apps, "No apps yet: add one with longshoreman apps:add APP, or deploy one with longshoreman --app APP deploy IMAGE.")
}

// runAppsAdd adds the app named by the argument (or --app).
func runAppsAdd(ctx context.Context, c *Call) error {
	if err := c.change(ctx, request{method: "POST", path: "/apps", body: api.CreateAppRequest{App: c.Args[0]}}); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Added app %s.\n", c.Args[0])
	return nil
}

// runAppsRemove stops the app's instances and forgets it.
func runAppsRemove(ctx context.Context, c *Call) error {
	if err := c.change(ctx, request{method: "DELETE", path: appPath(c.Args[0], ""), long: true}); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Removed app %s.\n", c.Args[0])
	return nil
}
