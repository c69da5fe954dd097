package scheduler

import (
	"context"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// Engines is the scheduler's view of the Docker hosts, each named by its IP
// address. The docker package implements it; every call is bounded by ctx.
// Errors that a person should see are *cluster.Error with code EHOST (the
// host failed) or EINVALID; anything else is reported as the host failing.
type Engines interface {
	// Ping checks that the host's Docker API answers.
	Ping(ctx context.Context, host string) error
	// Pull pulls image on host. When the pull fails but the image is already
	// present on the host, Pull returns a non-empty warning and a nil error;
	// when it fails with the image absent, the error names the image, the
	// host and the registry's reason.
	Pull(ctx context.Context, host, image string) (warning string, err error)
	// Run creates and starts a container for spec on spec.Host, with the
	// controller's labels, restart policy unless-stopped and spec.Port
	// published on spec.Host with a port Docker picks, and returns it as
	// inspected after start (Port is the published host port).
	Run(ctx context.Context, spec cluster.ContainerSpec) (cluster.Container, error)
	// Inspect returns one container; an unknown id is a *cluster.Error with
	// code ENOTFOUND.
	Inspect(ctx context.Context, host, id string) (cluster.Container, error)
	// Stop stops the container gracefully (SIGTERM, then SIGKILL after
	// timeout) and removes it; it returns nil only once the container is
	// gone, also when another call removes it meanwhile. A container that
	// is already gone is not an error.
	Stop(ctx context.Context, host, id string, timeout time.Duration) error
	// RunTask runs a one-off task: a container of spec (its Task set,
	// LabelTask, and its deadline, LabelTaskDeadline: spec.TaskDeadline,
	// else timeout from now) with no published port and no restart policy,
	// each output line passed to output as it comes. It returns the exit
	// code, or TimedOut when the task ran past its deadline and was
	// killed, with the container's id. Once started, the container is
	// left in place however RunTask returns, for the caller to record the
	// end before it removes it (Stop); when ctx ends first, or the host
	// fails while the task runs, the error comes with Started set and the
	// container runs on to its own end or deadline. A container that could
	// not be started is removed.
	RunTask(ctx context.Context, spec cluster.ContainerSpec, timeout time.Duration, output func(cluster.TaskLine)) (cluster.TaskResult, error)
	// List returns every container (running or not) that carries the
	// controller's labels and whose LabelHost is host, with Task set for
	// the containers of one-off tasks.
	List(ctx context.Context, host string) ([]cluster.Container, error)
	// Logs returns the last lines of the container's stdout and stderr.
	Logs(ctx context.Context, host, id string, lines int) ([]string, error)
	// StreamLogs sends the container's stdout and stderr lines picked by
	// opts to emit (Host, Stream, Time and Line set), one call at a time;
	// with opts.Follow it keeps sending new ones until ctx ends or the
	// container stops. It returns nil when the output ended, ctx's or
	// emit's error when either ended it, ENOTFOUND for an unknown
	// container, EHOST when the host failed.
	StreamLogs(ctx context.Context, host, id string, opts cluster.LogOptions, emit func(cluster.LogLine) error) error
	// FreeMemory returns the host's total memory in bytes, as Docker
	// reports it; placement reserves the instances' memory limits against
	// it (see PlaceSized).
	FreeMemory(ctx context.Context, host string) (int64, error)
	// RemoveVolume removes the named volume from host and reports whether
	// it was there; one a container still uses is refused with ECONFLICT.
	RemoveVolume(ctx context.Context, host, name string) (bool, error)
	// Events streams the host's container events (die, start, destroy...)
	// for containers that carry the controller's labels and whose LabelHost
	// is host, until ctx ends or the stream fails; the error channel gets
	// one value when the stream ends. A non-zero since replays the events
	// from that time on first.
	Events(ctx context.Context, host string, since time.Time) (<-chan cluster.ContainerEvent, <-chan error)
	// Images returns every image on the host (not only the controller's),
	// each with its normalized tags and the containers on the host, of
	// any controller, running or not, made from it.
	Images(ctx context.Context, host string) ([]cluster.Image, error)
	// RemoveImage removes the tag ref from the host, and the image with
	// its last tag; it never forces: Docker refuses (ECONFLICT) to remove
	// an image a container uses. A ref already gone is not an error.
	RemoveImage(ctx context.Context, host, ref string) error
	// ImageDiskUse returns the bytes the host's images take on its disk,
	// each layer counted once.
	ImageDiskUse(ctx context.Context, host string) (int64, error)
}
