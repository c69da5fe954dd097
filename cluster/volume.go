package cluster

import (
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Volumes pinned to hosts. An app's volume NAME:/path is a Docker local
// volume named VolumeName(app, NAME) on each of the app's pinned hosts
// (Revision.Hosts), mounted at /path in its instances. Docker creates it
// when the first instance using it is created; nothing but volumes:rm
// removes it (a deploy, scale, rollback or repair never does). A local
// volume has one writer, so such an app runs one instance per pinned
// host, never anywhere else, and is replaced stop-first on each host,
// while the routers hold its requests (RoutingTable.Held).

// Bounds of the volumes and pinned hosts of a revision.
const (
	MaxVolumes = 16
	MaxPinned  = 64
	// DefaultHold is how long routers hold an app's requests while a
	// stop-first deploy leaves it without a routed instance; MaxHold is
	// the longest an app may ask for.
	DefaultHold = 30 * time.Second
	MaxHold     = 10 * time.Minute
	// HoldRetryAfter is the Retry-After, in seconds, of the 503 a router
	// answers when the hold ran out.
	HoldRetryAfter = 5
	// VolumePrefix begins the Docker name of every volume the controller
	// makes: VolumePrefix + app + "-" + NAME.
	VolumePrefix = "longshoreman-"
)

// OpRemoveVolume removes one of an app's volumes from its hosts.
const OpRemoveVolume = "volumes:rm"

// ArgVolume names a volume (NAME of NAME:/path) in a Fix.
const ArgVolume = "volume"

func init() { Ops = append(Ops, OpRemoveVolume) }

var volumeNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// VolumeMount is one volume mounted in a container: the Docker volume
// Source at the container path Target.
type VolumeMount struct {
	Source string
	Target string
}

// VolumeName is the Docker name of the app's volume name.
func VolumeName(app, name string) string { return VolumePrefix + app + "-" + name }

// ParseVolume splits "NAME:/path" and checks both sides: NAME is 1 to 63
// lower-case letters, digits, '-' or '_', and /path an absolute, clean
// container path other than /.
func ParseVolume(s string) (name, target string, err error) {
	name, target, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", Errorf(EINVALID, "Volume %q has no ':': write it as NAME:/path, such as data:/var/lib/app.", clip(s))
	}
	if !volumeNameRE.MatchString(name) {
		return "", "", Errorf(EINVALID, "Volume name %q is not valid: use 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter or digit (as in data:/var/lib/app).", clip(name))
	}
	if !strings.HasPrefix(target, "/") || target == "/" || path.Clean(target) != target || strings.ContainsAny(target, ":,\x00\n\r\t") || len(target) > 1024 {
		return "", "", Errorf(EINVALID, "Volume %s's path %q is not valid: give an absolute, clean container path other than /, without ':' or ',', such as /var/lib/app.", name, clip(target))
	}
	return name, target, nil
}

// ValidatePlacement checks a revision's volumes (ValidateVolumes) and
// pinned hosts (ValidatePinned), and that hosts are given whenever
// volumes are (a volume lives on a host). It returns the hosts in
// canonical form.
func ValidatePlacement(volumes, hosts []string) ([]string, error) {
	if err := ValidateVolumes(volumes); err != nil {
		return nil, err
	}
	out, err := ValidatePinned(hosts)
	if err != nil {
		return nil, err
	}
	if len(volumes) > 0 && len(out) == 0 {
		return nil, Errorf(EINVALID, "An app with volumes must be pinned to the hosts that keep them: give a host (--host ADDR, \"hosts\" in the API) with the volumes.")
	}
	return out, nil
}

// ValidateVolumes checks each NAME:/path (ParseVolume), and that no name
// or path is given twice.
func ValidateVolumes(volumes []string) error {
	if len(volumes) > MaxVolumes {
		return Errorf(EINVALID, "%d volumes given; an app has at most %d.", len(volumes), MaxVolumes)
	}
	names, targets := map[string]bool{}, map[string]bool{}
	for _, v := range volumes {
		name, target, err := ParseVolume(v)
		if err != nil {
			return err
		}
		if names[name] || targets[target] {
			return Errorf(EINVALID, "Volume %q repeats the name or the path of another volume: give each volume its own name and path.", clip(v))
		}
		names[name], targets[target] = true, true
	}
	return nil
}

// ValidatePinned checks that each host is an IP address given once, and
// returns them in canonical form.
func ValidatePinned(hosts []string) ([]string, error) {
	if len(hosts) > MaxPinned {
		return nil, Errorf(EINVALID, "%d hosts given; an app is pinned to at most %d.", len(hosts), MaxPinned)
	}
	out := make([]string, 0, len(hosts))
	for _, h := range hosts {
		addr, err := ValidateHost(h)
		if err != nil {
			return nil, err
		}
		if slices.Contains(out, addr) {
			return nil, Errorf(EINVALID, "Host %s is given twice: pin the app to each host once.", addr)
		}
		out = append(out, addr)
	}
	return out, nil
}

// Pinned reports whether the revision runs only on its Hosts.
func (r *Revision) Pinned() bool { return r != nil && len(r.Hosts) > 0 }

// StopFirst reports whether the revision has volumes: one instance per
// pinned host, each stopped before its replacement starts.
func (r *Revision) StopFirst() bool { return r != nil && len(r.Volumes) > 0 }

// PinnedTo reports whether the revision is pinned to host.
func (r *Revision) PinnedTo(host string) bool { return r != nil && slices.Contains(r.Hosts, host) }

// Mounts returns the revision's volumes as Docker mounts.
func (r *Revision) Mounts() []VolumeMount {
	var out []VolumeMount
	for _, v := range r.Volumes {
		name, target, err := ParseVolume(v)
		if err == nil {
			out = append(out, VolumeMount{Source: VolumeName(r.App, name), Target: target})
		}
	}
	return out
}

// HoldOr returns the revision's hold, or DefaultHold when it has none.
func (r *Revision) HoldOr() time.Duration {
	if r == nil || r.Hold <= 0 {
		return DefaultHold
	}
	return r.Hold.D()
}

// ValidateHold checks a hold: 0 (the default) to MaxHold.
func ValidateHold(d time.Duration) error {
	if d < 0 || d > MaxHold {
		return Errorf(EINVALID, "Hold %s is out of range: give one from 0s (the default, %s) to %s.", d, DefaultHold, MaxHold)
	}
	return nil
}

// VolumeNames returns the NAME of each NAME:/path, sorted.
func VolumeNames(volumes []string) []string {
	out := make([]string, 0, len(volumes))
	for _, v := range volumes {
		name, _, _ := strings.Cut(v, ":")
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// AddHeld adds app to the table's held apps while a stop-first deploy
// holds its requests (App.Holding), with how long a router holds each.
// Both stores build the table with it.
func AddHeld(t *RoutingTable, app *App) {
	if !app.Holding || app.Deleting {
		return
	}
	if t.Held == nil {
		t.Held = map[string]Duration{}
	}
	hold := app.Hold
	if hold <= 0 {
		hold = Duration(DefaultHold)
	}
	t.Held[app.Name] = hold
}
