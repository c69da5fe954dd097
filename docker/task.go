package docker

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/longshoreman/longshoreman/cluster"
)

// maxTaskLine bounds one line of a task's output; longer lines are cut in
// pieces of this size, so a task writing without newlines cannot make the
// controller hold its whole output.
const maxTaskLine = 16 << 10

// RunTask runs a one-off task: a container of spec.Image on spec.Host
// labelled with spec.Task (LabelTask) and its deadline (LabelTaskDeadline:
// spec.TaskDeadline, else timeout from now), with no published port and no
// restart policy, its CMD replaced by spec.Command. Each line it writes is
// passed to output (which may be nil) as it comes. It returns the exit
// code once the container exits, or TimedOut when it ran longer than
// timeout (then it is killed); the result names the container.
//
// The container outlives the call: once it started, it is left in place
// however RunTask returns, so that the caller records the task's end
// before it removes it (Stop). When ctx ends first, or the host fails
// while the task runs, RunTask returns the error with Started set and the
// container runs on, to its own end or deadline: ctx bounds the wait, not
// the task. A container that could not be started is removed.
func (e *Engines) RunTask(ctx context.Context, spec cluster.ContainerSpec, timeout time.Duration, output func(cluster.TaskLine)) (cluster.TaskResult, error) {
	host := spec.Host
	res := cluster.TaskResult{Task: spec.Task, Host: host}
	c, err := e.client(host)
	if err != nil {
		return res, err
	}
	if spec.Task == "" {
		return res, cluster.Errorf(cluster.EINVALID, "A task of %s needs a task id.", spec.App)
	}
	controller := spec.Controller
	if controller == "" {
		controller = e.cfg.Controller
	}
	deadline := spec.TaskDeadline
	if deadline.IsZero() {
		deadline = time.Now().Add(timeout)
	}
	// No line is passed on once RunTask returned: the caller's writer may
	// be gone, and the output goroutine can outlive the wait for it below.
	gate := &lineGate{output: output}
	defer gate.close()
	lineOut := gate.line
	config, hostConfig := taskConfig(spec, controller, deadline)
	cctx, cancel := e.bounded(ctx)
	defer cancel()
	name := "ls-" + strings.ReplaceAll(spec.App, ".", "-") + "-task-" + spec.Task
	created, err := c.ContainerCreate(cctx, config, hostConfig, nil, nil, name)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return res, cluster.Errorf(cluster.EHOST, "Image %s is not on %s: pull it first (%v).", spec.Image, host, err)
		}
		return res, e.hostError(host, "create a task container of "+spec.Image, err)
	}
	res.Container = created.ID

	// Attached and waited for before the start, so no line and no exit is
	// missed however quickly it ends. Both outlive cctx: the task may run
	// for hours.
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	att, err := c.ContainerAttach(wctx, created.ID, container.AttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		e.discard(host, created.ID)
		return res, e.hostError(host, "attach to task container "+short(created.ID), err)
	}
	defer att.Close()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		out, errOut := newLineWriter("stdout", lineOut), newLineWriter("stderr", lineOut)
		_, _ = stdcopy.StdCopy(out, errOut, att.Reader)
		out.flush()
		errOut.flush()
	}()
	waited, waitErr := c.ContainerWait(wctx, created.ID, container.WaitConditionNextExit)
	if err := c.ContainerStart(cctx, created.ID, container.StartOptions{}); err != nil {
		e.discard(host, created.ID)
		return res, e.hostError(host, "start a task container of "+spec.Image, err)
	}
	res.Started = true

	if err := e.waitTask(ctx, &res, deadline, waited, waitErr); err != nil {
		return res, err
	}
	// The output ends with the container; wait a little for its last lines.
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
	}
	return res, nil
}

// lineGate passes a task's lines to output until it is closed.
type lineGate struct {
	mu     sync.Mutex
	closed bool
	output func(cluster.TaskLine)
}

func (g *lineGate) line(l cluster.TaskLine) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed && g.output != nil {
		g.output(l)
	}
}

func (g *lineGate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// taskConfig is the container of a task: the revision's image, envs and
// limits, spec's command, and labels that let any controller find it,
// follow it and end it by its deadline.
func taskConfig(spec cluster.ContainerSpec, controller string, deadline time.Time) (*container.Config, *container.HostConfig) {
	config := &container.Config{
		Image: spec.Image,
		Env:   spec.Env,
		Cmd:   spec.Command,
		Labels: map[string]string{
			cluster.LabelApp:          spec.App,
			cluster.LabelRevision:     strconv.Itoa(spec.Revision),
			cluster.LabelHost:         spec.Host,
			cluster.LabelController:   controller,
			cluster.LabelTask:         spec.Task,
			cluster.LabelTaskDeadline: deadline.UTC().Format(time.RFC3339Nano),
		},
		AttachStdout: true,
		AttachStderr: true,
	}
	hostConfig := &container.HostConfig{}
	hostConfig.Memory = int64(spec.Memory)
	hostConfig.NanoCPUs = int64(spec.CPUs * 1e9)
	return config, hostConfig
}

// waitTask waits for the started task res until it exits (its exit code)
// or its deadline passes (killed: 137, TimedOut).
func (e *Engines) waitTask(ctx context.Context, res *cluster.TaskResult, deadline time.Time, waited <-chan container.WaitResponse, waitErr <-chan error) error {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case w := <-waited:
		if w.Error != nil && w.Error.Message != "" {
			return cluster.Errorf(cluster.EHOST, "Docker on %s could not wait for task container %s: %s.", e.endpoint(res.Host), short(res.Container), w.Error.Message)
		}
		res.ExitCode = int(w.StatusCode)
	case err := <-waitErr:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return e.hostError(res.Host, "wait for task container "+short(res.Container), err)
	case <-timer.C:
		e.kill(res.Host, res.Container)
		res.TimedOut, res.ExitCode = true, 137
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// kill sends SIGKILL to a task container, with a context of its own.
func (e *Engines) kill(host, id string) {
	c, err := e.client(host)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Timeout)
	defer cancel()
	_ = c.ContainerKill(ctx, id, "KILL")
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// lineWriter splits what a task writes into lines for output. It is used
// by one goroutine.
type lineWriter struct {
	stream string
	output func(cluster.TaskLine)
	buf    bytes.Buffer
}

func newLineWriter(stream string, output func(cluster.TaskLine)) *lineWriter {
	return &lineWriter{stream: stream, output: output}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	for {
		b := w.buf.Bytes()
		i := bytes.IndexByte(b, '\n')
		switch {
		case i < 0 && len(b) < maxTaskLine:
			return len(p), nil
		case i < 0 || i > maxTaskLine:
			w.emit(string(w.buf.Next(maxTaskLine)))
		default:
			w.emit(strings.TrimRight(string(w.buf.Next(i+1)), "\r\n"))
		}
	}
}

func (w *lineWriter) flush() {
	if w.buf.Len() > 0 {
		w.emit(strings.TrimRight(w.buf.String(), "\r\n"))
		w.buf.Reset()
	}
}

func (w *lineWriter) emit(line string) {
	if w.output != nil {
		w.output(cluster.TaskLine{Stream: w.stream, Line: line})
	}
}
