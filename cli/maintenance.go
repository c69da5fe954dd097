package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	api "github.com/longshoreman/longshoreman/http"
)

// runMaintenanceOn answers the app's requests at every router with its
// maintenance page, with --message as its text.
func runMaintenanceOn(ctx context.Context, c *Call) error {
	on := true
	var out api.MaintenanceResponse
	cl, err := c.Client()
	if err != nil {
		return err
	}
	body := api.MaintenanceRequest{Enabled: &on, Message: c.String("message")}
	if err := cl.do(ctx, request{method: "POST", path: appPath(c.App, "maintenance"), body: body}, &out); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "%s is in maintenance: the routers answer it with 503 and %q; its instances keep running and deploys go on. End it with longshoreman maintenance:off --app %s.\n",
		c.App, maintenanceText(out.Maintenance.Message), c.App)
	return nil
}

// runMaintenanceOff serves the app's requests again.
func runMaintenanceOff(ctx context.Context, c *Call) error {
	off := false
	if err := c.change(ctx, request{method: "POST", path: appPath(c.App, "maintenance"), body: api.MaintenanceRequest{Enabled: &off}}); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "%s is out of maintenance: the routers serve it again.\n", c.App)
	return nil
}

// maintenanceText is the text of the maintenance page shown for msg.
func maintenanceText(msg string) string {
	if msg == "" {
		return cluster.DefaultMaintenanceMessage
	}
	return msg
}

// maintenanceNote says, below the describe table, which apps are in
// maintenance: since when, and their message.
func maintenanceNote(m *cluster.AppMaintenance, app string) string {
	return fmt.Sprintf("%s is in maintenance since %s: %q\n", app, m.Since.UTC().Format(time.RFC3339), maintenanceText(m.Message))
}
