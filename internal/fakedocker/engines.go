// Package fakedocker holds fakes of the Docker hosts for tests and
// benchmarks that must run without a Docker daemon: Engines, an in-memory
// fake of the scheduler's Engines interface for the fast test tier, and
// Server, a fake of the Docker Engine HTTP API for the scale benchmark,
// which drives the real docker package. Nothing in either runs a process:
// a started container is a real TCP listener that answers its health
// check, so health probes do real HTTP on loopback. The integration tier
// runs against the real dockerd (internal/testenv).
package fakedocker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// Image is how the containers of one image behave in the fake.
type Image struct {
	// Status is what the container's every GET answers; 0 means 200.
	Status int
	// Exits makes the container exit as soon as it started (exit code 1):
	// Run returns it without a published port, as Docker does.
	Exits bool
}

// Engines is an in-memory fake of the Docker hosts, implementing the
// scheduler's Engines interface. Every host address is known and answers
// until SetDown; images must be added with AddImage before they can be
// pulled. It is safe for concurrent use. Close it to free its listeners.
type Engines struct {
	calls callCounts // method -> calls

	mu         sync.Mutex // guards the fields below
	images     map[string]Image
	pulled     map[string]map[string]bool // host -> refs (cluster.ImageRef) pulled there and not removed
	down       map[string]bool
	free       map[string]int64
	containers map[string]*container // id -> container
	events     map[string][]cluster.ContainerEvent
	watchers   map[string][]chan cluster.ContainerEvent
	printed    map[string][]cluster.LogLine // by container id: lines given to Print
	logWake    chan struct{}                // closed when a line is printed or a container exits
	volumes    map[string]map[string]bool   // host -> names of the volumes made there
}

type container struct {
	cluster.Container
	spec     cluster.ContainerSpec
	status   int // what its GETs answer while it runs
	listener net.Listener
	server   *http.Server
	exited   chan struct{} // a task's: closed when it exits
	output   []string      // a task's lines, for Logs
}

// New returns fake engines without images, every host up with 8 GiB free.
func New() *Engines {
	return &Engines{
		images: map[string]Image{}, down: map[string]bool{}, free: map[string]int64{},
		containers: map[string]*container{}, events: map[string][]cluster.ContainerEvent{},
		watchers: map[string][]chan cluster.ContainerEvent{}, volumes: map[string]map[string]bool{},
	}
}

// AddImage puts ref in the registry every host pulls from.
func (e *Engines) AddImage(ref string, img Image) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.images[ref] = img
}

// SetDown makes every call to host fail (down) or answer again (up), as a
// host whose Docker API is unreachable; its containers keep their state.
func (e *Engines) SetDown(host string, down bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.down[host] = down
}

// SetFreeMemory sets what FreeMemory reports for host.
func (e *Engines) SetFreeMemory(host string, bytes int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.free[host] = bytes
}

// Kill makes a running container exit (exit code 137) and reports its
// death to the host's event watchers, as docker kill does.
func (e *Engines) Kill(id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.containers[id]
	if !ok {
		return cluster.Errorf(cluster.ENOTFOUND, "Container %s is not on any fake host.", id)
	}
	e.exitLocked(c, 137, "die")
	return nil
}

// SetStatus makes the running container id answer every GET with status
// from now on (0 means 200), as an instance that turns healthy or sick.
func (e *Engines) SetStatus(id string, status int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.containers[id]
	if !ok {
		return cluster.Errorf(cluster.ENOTFOUND, "Container %s is not on any fake host.", id)
	}
	if status == 0 {
		status = http.StatusOK
	}
	c.status = status
	return nil
}

// Containers returns the containers on host, of every controller, sorted
// by id.
func (e *Engines) Containers(host string) []cluster.Container {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []cluster.Container
	for _, c := range e.containers {
		if c.Host == host {
			out = append(out, c.Container)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Calls returns how many times each method was called, by name ("Run",
// "Stop"...), failed calls included.
func (e *Engines) Calls() map[string]int { return e.calls.counts() }

// Close stops every container's listener.
func (e *Engines) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.containers {
		e.closeLocked(c)
	}
}

// call counts a call of method to host and fails it when the host is down.
func (e *Engines) call(method, host string) error {
	e.calls.add(method)
	if e.down[host] {
		return cluster.Errorf(cluster.EHOST, "Docker on %s did not answer (the fake host is down).", host)
	}
	return nil
}

// Ping implements scheduler.Engines.
func (e *Engines) Ping(ctx context.Context, host string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.call("Ping", host)
}

// Pull implements scheduler.Engines: an image not added is absent.
func (e *Engines) Pull(ctx context.Context, host, image string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.call("Pull", host); err != nil {
		return "", err
	}
	if _, ok := e.images[image]; !ok {
		return "", cluster.Errorf(cluster.EHOST, "Pulling %s on %s failed: the registry has no such image. Push it, or check its name.", image, host)
	}
	e.pullLocked(host, image)
	return "", nil
}

// Run implements scheduler.Engines: the container listens on a port of
// spec.Host picked by the system, unless its image exits at start.
func (e *Engines) Run(ctx context.Context, spec cluster.ContainerSpec) (cluster.Container, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.call("Run", spec.Host); err != nil {
		return cluster.Container{}, err
	}
	img, ok := e.images[spec.Image]
	if !ok {
		return cluster.Container{}, cluster.Errorf(cluster.EHOST, "Image %s is not on %s: pull it first.", spec.Image, spec.Host)
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	c := &container{spec: spec, status: img.Status, Container: cluster.Container{
		ID: hex.EncodeToString(b[:]), App: spec.App, Revision: spec.Revision, Host: spec.Host,
		Controller: spec.Controller, Image: spec.Image, Created: time.Now().UTC(),
	}}
	if c.status == 0 {
		c.status = http.StatusOK
	}
	e.containers[c.ID] = c
	e.addVolumesLocked(spec)
	e.emitLocked(c, "start")
	if img.Exits {
		e.exitLocked(c, 1, "die")
		return c.Container, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(spec.Host, "0"))
	if err != nil {
		delete(e.containers, c.ID)
		return cluster.Container{}, cluster.Errorf(cluster.EHOST, "The fake host %s cannot listen: %v.", spec.Host, err)
	}
	c.listener = l
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		status := c.status
		e.mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write([]byte("fake container " + c.ID[:12] + "\n"))
	})}
	c.server = srv
	// srv, not c.server: a stop may clear c.server before this runs.
	go func() { _ = srv.Serve(l) }()
	c.Port, c.Running, c.State = l.Addr().(*net.TCPAddr).Port, true, "running"
	return c.Container, nil
}

// Inspect implements scheduler.Engines.
func (e *Engines) Inspect(ctx context.Context, host, id string) (cluster.Container, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.call("Inspect", host); err != nil {
		return cluster.Container{}, err
	}
	c, ok := e.containers[id]
	if !ok || c.Host != host {
		return cluster.Container{}, cluster.Errorf(cluster.ENOTFOUND, "Container %s is not on %s.", id, host)
	}
	return c.Container, nil
}

// Stop implements scheduler.Engines: the container stops and is removed.
func (e *Engines) Stop(ctx context.Context, host, id string, timeout time.Duration) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.call("Stop", host); err != nil {
		return err
	}
	c, ok := e.containers[id]
	if !ok || c.Host != host {
		return nil
	}
	if c.Running {
		e.exitLocked(c, 0, "die")
	}
	delete(e.containers, id)
	e.emitLocked(c, "destroy")
	return nil
}

// List implements scheduler.Engines: the containers whose host is host.
func (e *Engines) List(ctx context.Context, host string) ([]cluster.Container, error) {
	e.mu.Lock()
	if err := e.call("List", host); err != nil {
		e.mu.Unlock()
		return nil, err
	}
	e.mu.Unlock()
	return e.Containers(host), nil
}

// Logs implements scheduler.Engines: a task's last lines, or for an
// instance one line naming the container.
func (e *Engines) Logs(ctx context.Context, host, id string, lines int) ([]string, error) {
	c, err := e.Inspect(ctx, host, id)
	if err != nil {
		return nil, err
	}
	if c.Task != "" {
		e.mu.Lock()
		defer e.mu.Unlock()
		var out []string
		if c, ok := e.containers[id]; ok {
			out = c.output
		}
		return append([]string{}, out[max(0, len(out)-lines):]...), nil
	}
	return []string{"fake container " + short(c.ID) + " of " + c.Image}, nil
}

// FreeMemory implements scheduler.Engines: 8 GiB unless SetFreeMemory.
func (e *Engines) FreeMemory(ctx context.Context, host string) (int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.call("FreeMemory", host); err != nil {
		return 0, err
	}
	if f, ok := e.free[host]; ok {
		return f, nil
	}
	return 8 << 30, nil
}

// Events implements scheduler.Engines: the host's events after since, then
// every new one, until ctx ends (or at once, with an error, when the host
// is down).
func (e *Engines) Events(ctx context.Context, host string, since time.Time) (<-chan cluster.ContainerEvent, <-chan error) {
	errc := make(chan error, 1)
	out := make(chan cluster.ContainerEvent)
	e.mu.Lock()
	if err := e.call("Events", host); err != nil {
		e.mu.Unlock()
		errc <- err
		return out, errc
	}
	var replay []cluster.ContainerEvent
	if !since.IsZero() {
		for _, ev := range e.events[host] {
			if ev.Time.After(since) {
				replay = append(replay, ev)
			}
		}
	}
	in := make(chan cluster.ContainerEvent, 1024)
	e.watchers[host] = append(e.watchers[host], in)
	e.mu.Unlock()
	go func() {
		defer func() {
			e.mu.Lock()
			ws := e.watchers[host]
			for i, w := range ws {
				if w == in {
					e.watchers[host] = append(ws[:i:i], ws[i+1:]...)
					break
				}
			}
			e.mu.Unlock()
			errc <- ctx.Err()
		}()
		for _, ev := range replay {
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
		for {
			select {
			case ev := <-in:
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, errc
}

// exitLocked stops the container's listener and marks it exited; e.mu held.
func (e *Engines) exitLocked(c *container, code int, action string) {
	e.closeLocked(c)
	if c.exited != nil {
		select {
		case <-c.exited:
		default:
			close(c.exited)
		}
	}
	c.Running, c.State, c.ExitCode, c.Port = false, "exited", code, 0
	e.emitLocked(c, action)
	e.wakeLogsLocked()
}

func (e *Engines) closeLocked(c *container) {
	if c.server != nil {
		_ = c.server.Close()
		c.server, c.listener = nil, nil
	}
}

// emitLocked records an event and hands it to the host's watchers without
// blocking; e.mu held.
func (e *Engines) emitLocked(c *container, action string) {
	ev := cluster.ContainerEvent{Host: c.Host, ID: c.ID, App: c.App, Revision: c.Revision, Action: action, Time: time.Now()}
	e.events[c.Host] = append(e.events[c.Host], ev)
	for _, w := range e.watchers[c.Host] {
		select {
		case w <- ev:
		default:
		}
	}
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// callCounts counts calls by name; it is safe for concurrent use.
type callCounts struct {
	mu sync.Mutex // guards n
	n  map[string]int
}

func (c *callCounts) add(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[name]++
}

// counts returns a copy of the counts.
func (c *callCounts) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}
