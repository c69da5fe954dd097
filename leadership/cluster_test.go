package leadership_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/internal/fakedocker"
	"github.com/longshoreman/longshoreman/scheduler"
)

// The fast tier's cluster of controllers: one data file and fake Docker
// hosts shared by controller processes, each with its own leadership on a
// fake election, and a scheduler and reconciler fenced by it. What the
// real failover tests do with etcd, dockerd and kill -9, these do with a
// test deciding every step.

var fakeHosts = []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}

const (
	image1    = "registry.example/app:1"
	image2    = "registry.example/app:2"
	slowImage = "registry.example/app:slow" // answers 503 until the test makes it healthy
)

// world is what the controllers share.
type world struct {
	db      *db.DB
	engines *fakedocker.Engines
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{db: openDB(t), engines: fakedocker.New()}
	t.Cleanup(w.engines.Close)
	w.engines.AddImage(image1, fakedocker.Image{})
	w.engines.AddImage(image2, fakedocker.Image{})
	w.engines.AddImage(slowImage, fakedocker.Image{Status: http.StatusServiceUnavailable})
	for _, h := range fakeHosts {
		if _, err := w.db.AddHost(h); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *world) app(t *testing.T, name string) string {
	t.Helper()
	if _, err := w.db.CreateApp(name); err != nil {
		t.Fatal(err)
	}
	return name
}

// controller is one controller process of the world.
type controller struct {
	*process
	sched *scheduler.Scheduler
	rec   *scheduler.Reconciler
}

// controller starts a controller process on w whose scheduler calls the
// hosts through engines (w's fake hosts when nil).
func (w *world) controller(t *testing.T, engines scheduler.Engines) *controller {
	t.Helper()
	if engines == nil {
		engines = w.engines
	}
	p := startProcess(t, w.db)
	s := scheduler.New(w.db, p.Engines(engines), scheduler.Config{
		Controller: w.db.ControllerID(), Drain: 10 * time.Millisecond, RouterReconnect: 10 * time.Millisecond,
		Fence: p.Leadership,
	})
	t.Cleanup(s.Close)
	return &controller{process: p, sched: s, rec: scheduler.NewReconciler(s, scheduler.ReconcilerConfig{Interval: time.Hour})}
}

func (c *controller) mustDeploy(t *testing.T, app, image string, count int) {
	t.Helper()
	if _, err := c.sched.Deploy(context.Background(), app, cluster.DeployRequest{Image: image, Count: count}, nil); err != nil {
		t.Fatal(err)
	}
}

// deployInBackground starts a deploy of image and returns its outcome's
// channel.
func (c *controller) deployInBackground(app, image string) <-chan error {
	out := make(chan error, 1)
	go func() {
		_, err := c.sched.Deploy(context.Background(), app, cluster.DeployRequest{Image: image}, nil)
		out <- err
	}()
	return out
}

// waitInstances waits until app has n instance records of revision (and
// routed ones when routed), and returns them.
func (w *world) waitInstances(t *testing.T, app string, revision, n int, routed bool) []cluster.Instance {
	t.Helper()
	var got []cluster.Instance
	waitUntil(t, "the instances of the deploy", func() bool {
		insts, _ := w.db.Instances(app)
		got = got[:0]
		for _, i := range insts {
			if i.Revision == revision && (i.Routed || !routed) {
				got = append(got, i)
			}
		}
		return len(got) == n
	})
	return got
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitErr(t *testing.T, c <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-c:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not return", what)
		return nil
	}
}

// revision returns app's revision number.
func (w *world) revision(t *testing.T, app string, number int) cluster.Revision {
	t.Helper()
	rev, err := w.db.Revision(app, number)
	if err != nil {
		t.Fatal(err)
	}
	return *rev
}

// state says what app runs: its current revision, the revisions of its
// routed instances, and of its containers, each sorted.
func (w *world) state(t *testing.T, app string) (current int, routed, containers []int) {
	t.Helper()
	a, err := w.db.App(app)
	if err != nil {
		t.Fatal(err)
	}
	insts, err := w.db.Instances(app)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range insts {
		if i.Routed {
			routed = append(routed, i.Revision)
		}
	}
	for _, h := range fakeHosts {
		for _, ct := range w.engines.Containers(h) {
			if ct.App == app && ct.Running {
				containers = append(containers, ct.Revision)
			}
		}
	}
	sort.Ints(routed)
	sort.Ints(containers)
	return a.Revision, routed, containers
}

// records returns every record of the store, as a string to compare.
func (w *world) records(t *testing.T) string {
	t.Helper()
	var out strings.Builder
	err := w.db.Records(func(r cluster.Record) error {
		fmt.Fprintf(&out, "%s/%s/%s=%s\n", r.Kind, r.Scope, r.Key, r.Value)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// mutating counts the calls to the hosts that change what runs.
func mutating(calls map[string]int) map[string]int {
	return map[string]int{"Pull": calls["Pull"], "Run": calls["Run"], "Stop": calls["Stop"], "RunTask": calls["RunTask"], "RemoveImage": calls["RemoveImage"]}
}

// gate holds calls to the hosts until the test opens it, as a slow or
// hung Docker call.
type gate struct {
	arrived chan struct{} // closed at the first call held
	once    sync.Once
	open    chan struct{} // closed by the test: the held calls go on
	// ignoreCtx holds a call past the end of its context, as a call that
	// hangs in the daemon; fail is then what a held call returns instead of
	// going on. Calls made once the gate is open go on.
	ignoreCtx bool
	fail      error
}

func newGate() *gate { return &gate{arrived: make(chan struct{}), open: make(chan struct{})} }

// hold returns nil when the call may go on.
func (g *gate) hold(ctx context.Context) error {
	if g == nil {
		return nil
	}
	select {
	case <-g.open:
		return nil
	default:
	}
	g.once.Do(func() { close(g.arrived) })
	if g.ignoreCtx {
		<-g.open
		return g.fail
	}
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-g.arrived:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s never came", what)
	}
}

// gatedEngines is a fake of the hosts whose Pull, Stop and List calls go
// through gates; a nil gate holds nothing.
type gatedEngines struct {
	*fakedocker.Engines
	pull, stop, list *gate
}

func (e *gatedEngines) Pull(ctx context.Context, host, image string) (string, error) {
	if err := e.pull.hold(ctx); err != nil {
		return "", err
	}
	return e.Engines.Pull(ctx, host, image)
}

func (e *gatedEngines) Stop(ctx context.Context, host, id string, timeout time.Duration) error {
	if err := e.stop.hold(ctx); err != nil {
		return err
	}
	return e.Engines.Stop(ctx, host, id, timeout)
}

func (e *gatedEngines) List(ctx context.Context, host string) ([]cluster.Container, error) {
	if err := e.list.hold(ctx); err != nil {
		return nil, err
	}
	return e.Engines.List(ctx, host)
}
