package cli

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/longshoreman/longshoreman/cluster"
	api "github.com/longshoreman/longshoreman/http"
)

var volumesRemoveCommand = &Command{Name: cluster.OpRemoveVolume, Group: groupDeploys, Run: runVolumesRemove, App: NeedsApp,
	Args:    []Arg{{Name: "NAME", What: "volume name (the NAME of NAME:/path)", Key: cluster.ArgVolume}},
	Flags:   []Flag{{Name: "yes", Help: "do not ask: remove it and its data at once"}},
	Summary: "remove an app's volume and its data from its hosts",
	Help: `Remove the Docker volume longshoreman-APP-NAME, and the data in it, from
every host that has it. Nothing else ever removes a volume: deploys, scales,
rollbacks, repairs and apps:rm keep it. It is refused while the app runs
with the volume: deploy it without it (--volume '' or other volumes), or
kill it, first. Without --yes, it asks to type NAME again to confirm.`}

// runVolumesRemove asks for the volume's name again (unless --yes), then
// removes it.
func runVolumesRemove(ctx context.Context, c *Call) error {
	name := c.Args[0]
	if _, _, err := cluster.ParseVolume(name + ":/x"); err != nil || strings.Contains(name, ":") {
		return fmt.Errorf("volumes:rm takes a volume's NAME (as in --volume NAME:/path), not %q", name)
	}
	volume := cluster.VolumeName(c.App, name)
	if !c.Bool("yes") {
		fmt.Fprintf(c.Stderr, "This removes the volume %s and all its data from every host that has it.\nType the volume name (%s) to confirm: ", volume, name)
		typed, _ := bufio.NewReader(c.Stdin).ReadString('\n')
		if strings.TrimSpace(typed) != name {
			return fmt.Errorf("not confirmed: nothing was removed (type %s, or give --yes)", name)
		}
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var out api.VolumeRemovedResponse
	if err := cl.do(ctx, request{method: "DELETE", path: appPath(c.App, "volumes/"+url.PathEscape(name)), long: true}, &out); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Removed volume %s from %s.\n", out.Volume, strings.Join(out.Hosts, ", "))
	return nil
}
