package leadership

import (
	"context"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/pubsub"
	"github.com/longshoreman/longshoreman/scheduler"
)

// Engines returns e fenced by term: Pull, Run, Stop, RemoveVolume and RemoveImage are
// refused with EUNAVAILABLE unless the term their context carries (see
// Begin) is the one this controller leads in now, and are cancelled in
// flight when that term ends, so an operation of an ended term (a leader
// paused past its lease, or one that lost and won the leadership again
// meanwhile) starts and stops nothing; what it had started, the leader's
// reconciler adopts or removes as after a crash. RunTask is refused
// likewise, but a task once started is not cancelled when its term ends:
// it runs to its own end.
// The other calls only read, and pass through.
func (l *Leadership) Engines(e scheduler.Engines) scheduler.Engines {
	return fencedEngines{Engines: e, l: l}
}

type fencedEngines struct {
	scheduler.Engines
	l *Leadership
}

// bind returns ctx cut short when t ends: operations run on contexts
// detached from their requests, and a context that carries a term may have
// been detached from it too, so this is what cancels a Docker call in
// flight when its term ends.
func bind(ctx context.Context, t *term) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(t.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

func (f fencedEngines) Pull(ctx context.Context, host, image string) (string, error) {
	t, err := f.l.check(ctx, "Pulling "+image+" on "+host)
	if err != nil {
		return "", err
	}
	ctx, cancel := bind(ctx, t)
	defer cancel()
	return f.Engines.Pull(ctx, host, image)
}

func (f fencedEngines) Run(ctx context.Context, spec cluster.ContainerSpec) (cluster.Container, error) {
	t, err := f.l.check(ctx, "Starting a container of "+spec.App+" on "+spec.Host)
	if err != nil {
		return cluster.Container{}, err
	}
	ctx, cancel := bind(ctx, t)
	defer cancel()
	return f.Engines.Run(ctx, spec)
}

func (f fencedEngines) Stop(ctx context.Context, host, id string, timeout time.Duration) error {
	t, err := f.l.check(ctx, "Stopping a container on "+host)
	if err != nil {
		return err
	}
	ctx, cancel := bind(ctx, t)
	defer cancel()
	return f.Engines.Stop(ctx, host, id, timeout)
}

func (f fencedEngines) RemoveVolume(ctx context.Context, host, name string) (bool, error) {
	t, err := f.l.check(ctx, "Removing the volume "+name+" from "+host)
	if err != nil {
		return false, err
	}
	ctx, cancel := bind(ctx, t)
	defer cancel()
	return f.Engines.RemoveVolume(ctx, host, name)
}

func (f fencedEngines) RemoveImage(ctx context.Context, host, ref string) error {
	t, err := f.l.check(ctx, "Removing image "+ref+" from "+host)
	if err != nil {
		return err
	}
	ctx, cancel := bind(ctx, t)
	defer cancel()
	return f.Engines.RemoveImage(ctx, host, ref)
}

// RunTask refuses to start a task outside the current term, and does not
// tie the task to its term: a started task's container runs to its own
// end whatever happens to the leadership (its caller's context decides).
func (f fencedEngines) RunTask(ctx context.Context, spec cluster.ContainerSpec, timeout time.Duration, output func(cluster.TaskLine)) (cluster.TaskResult, error) {
	if _, err := f.l.check(ctx, "Starting a task of "+spec.App+" on "+spec.Host); err != nil {
		return cluster.TaskResult{}, err
	}
	return f.Engines.RunTask(ctx, spec, timeout, output)
}

// Table returns src fenced: it hands the publisher no table unless this
// controller leads, so a leader resumed after its lease ran out publishes
// nothing, even before its loops have been stopped.
func (l *Leadership) Table(src pubsub.TableSource) pubsub.TableSource {
	return fencedTable{TableSource: src, l: l}
}

type fencedTable struct {
	pubsub.TableSource
	l *Leadership
}

func (f fencedTable) RoutingTable() (cluster.RoutingTable, error) {
	if !f.l.Leading() {
		return cluster.RoutingTable{}, cluster.Errorf(cluster.EUNAVAILABLE, "This controller does not lead: only the leader publishes routing tables.")
	}
	return f.TableSource.RoutingTable()
}
