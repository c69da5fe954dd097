package scheduler_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// opCall is an operation sent in its own goroutine, its progress steps
// recorded; with hold set, its rollout stops at its revision step until
// released is closed.
type opCall struct {
	name     string
	waiting  chan struct{} // closed when it reported that it waits
	atRev    chan struct{} // closed when its rollout reached its revision step
	released chan struct{}
	done     chan struct{}
	res      *cluster.DeployResult
	err      error
	mu       sync.Mutex
	steps    []cluster.Progress
}

func sendOp(name string, hold bool, op func(cluster.ProgressFunc) (*cluster.DeployResult, error)) *opCall {
	call := &opCall{name: name, waiting: make(chan struct{}), atRev: make(chan struct{}), done: make(chan struct{})}
	if hold {
		call.released = make(chan struct{})
	}
	var waitOnce, revOnce sync.Once
	progress := func(p cluster.Progress) {
		call.mu.Lock()
		call.steps = append(call.steps, p)
		call.mu.Unlock()
		switch p.Step {
		case "waiting":
			waitOnce.Do(func() { close(call.waiting) })
		case "revision":
			revOnce.Do(func() {
				close(call.atRev)
				if call.released != nil {
					<-call.released
				}
			})
		}
	}
	go func() {
		defer close(call.done)
		call.res, call.err = op(progress)
	}()
	return call
}

func (call *opCall) await(tb testing.TB, ch chan struct{}, what string) {
	tb.Helper()
	select {
	case <-ch:
	case <-call.done:
		if ch != call.done {
			tb.Fatalf("%s answered (%+v, %v) before it %s", call.name, call.res, call.err, what)
		}
	case <-time.After(30 * time.Second):
		tb.Fatalf("%s did not %s within 30s", call.name, what)
	}
}

func (call *opCall) step(name string) (cluster.Progress, bool) {
	call.mu.Lock()
	defer call.mu.Unlock()
	for _, p := range call.steps {
		if p.Step == name {
			return p, true
		}
	}
	return cluster.Progress{}, false
}

// stepNames lists the steps reported so far, separated by spaces.
func (call *opCall) stepNames() string {
	call.mu.Lock()
	defer call.mu.Unlock()
	names := make([]string, len(call.steps))
	for i, p := range call.steps {
		names[i] = p.Step
	}
	return strings.Join(names, " ")
}

func waitCtx(timeout time.Duration) context.Context {
	return cluster.WithWait(context.Background(), timeout)
}

// Operations that ask to wait queue behind the running one and run in
// arrival order, each saying what it waits for; one that does not ask
// still gets 409; an env change that asks waits behind a deploy too.
func TestFakeWaitingOperationsRunInTurn(t *testing.T) {
	t.Parallel()
	c, app := mustOpenFakeApp(t, "turns.example.com", 2)
	deploy := func(ctx context.Context, image string) func(cluster.ProgressFunc) (*cluster.DeployResult, error) {
		return func(p cluster.ProgressFunc) (*cluster.DeployResult, error) {
			return c.Deploy(ctx, app, cluster.DeployRequest{Image: image}, p)
		}
	}
	first := sendOp("the first deploy", true, deploy(context.Background(), goodImage2))
	first.await(t, first.atRev, "reach its revision step")

	second := sendOp("the waiting deploy", false, deploy(waitCtx(time.Hour), goodImage))
	second.await(t, second.waiting, "report that it waits")
	env := sendOp("the waiting env change", false, func(p cluster.ProgressFunc) (*cluster.DeployResult, error) {
		return c.SetEnv(waitCtx(time.Hour), app, "COLOR", "blue", p)
	})
	env.await(t, env.waiting, "report that it waits")
	scale := sendOp("the waiting scale", false, func(p cluster.ProgressFunc) (*cluster.DeployResult, error) {
		return c.Scale(waitCtx(time.Hour), app, 3, p)
	})
	scale.await(t, scale.waiting, "report that it waits")

	if p, _ := second.step("waiting"); !strings.Contains(p.Message, "a deploy of "+app) || !strings.Contains(p.Message, "at most 1h0m0s") {
		t.Errorf("waiting step = %q; want it to name the deploy it waits for and the timeout", p.Message)
	}
	if p, _ := scale.step("waiting"); !strings.Contains(p.Message, "2 operations queued before this one") {
		t.Errorf("the scale's waiting step = %q; want the 2 operations queued before it", p.Message)
	}
	if _, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage}, nil); cluster.ErrorCode(err) != cluster.ECONFLICT {
		t.Fatalf("a deploy without wait during a deploy: %v; want ECONFLICT", err)
	}

	close(first.released)
	for i, call := range []*opCall{first, second, env, scale} {
		call.await(t, call.done, "answer")
		if call.err != nil {
			t.Fatalf("%s: %v", call.name, call.err)
		}
		if want := 2 + i; call.res.Revision != want && call.name != "the waiting scale" {
			t.Errorf("%s made revision %d; want %d (arrival order)", call.name, call.res.Revision, want)
		}
	}
	a, err := c.DB.App(app)
	if err != nil {
		t.Fatal(err)
	}
	if a.Image != goodImage || a.Envs["COLOR"] != "blue" || a.Count != 3 || a.Revision != 4 {
		t.Fatalf("app after the queue = image %s, envs %v, count %d, revision %d; want %s, COLOR=blue, 3, revision 4", a.Image, a.Envs, a.Count, a.Revision, goodImage)
	}
	if c.Busy(app) {
		t.Fatal("the app is still held after every operation answered")
	}
}

// A waiting operation gives up with ECONFLICT, changing nothing, when its
// timeout passes or its client goes away; the queue then goes on without
// it.
func TestFakeWaitGivesUp(t *testing.T) {
	t.Parallel()
	c, app := mustOpenFakeApp(t, "giveup.example.com", 1)
	first := sendOp("the first deploy", true, func(p cluster.ProgressFunc) (*cluster.DeployResult, error) {
		return c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage2}, p)
	})
	first.await(t, first.atRev, "reach its revision step")

	_, err := c.Scale(waitCtx(time.Second), app, 2, nil)
	if cluster.ErrorCode(err) != cluster.ECONFLICT || !strings.Contains(cluster.ErrorMessage(err), "waited 1s") || !strings.Contains(cluster.ErrorMessage(err), "a deploy of "+app) {
		t.Fatalf("scale past its wait timeout: %v; want ECONFLICT saying it waited 1s for the deploy", err)
	}
	client, cancel := context.WithCancel(context.Background())
	gone := sendOp("the deploy whose client goes away", false, func(p cluster.ProgressFunc) (*cluster.DeployResult, error) {
		return c.Deploy(cluster.WithWait(client, time.Hour), app, cluster.DeployRequest{Image: goodImage}, p)
	})
	gone.await(t, gone.waiting, "report that it waits")
	cancel()
	gone.await(t, gone.done, "answer")
	if cluster.ErrorCode(gone.err) != cluster.ECONFLICT || !strings.Contains(cluster.ErrorMessage(gone.err), "client went away") {
		t.Fatalf("deploy whose client went away: %v; want ECONFLICT saying so", gone.err)
	}
	close(first.released)
	first.await(t, first.done, "answer")
	if first.err != nil || first.res.Revision != 2 {
		t.Fatalf("first deploy = %+v, %v; want revision 2", first.res, first.err)
	}
	if c.Busy(app) {
		t.Fatal("the app is still held: an operation that gave up is still queued")
	}
	a, _ := c.DB.App(app)
	if a.Count != 1 || a.Image != goodImage2 {
		t.Fatalf("app = count %d image %s; want 1 of %s (the ones that gave up changed nothing)", a.Count, a.Image, goodImage2)
	}
}

// Env changes that wait behind a deploy, sent together (one request per
// variable, as envs:set sends them), go out together as one revision once
// the deploy is done.
func TestFakeWaitingEnvChangesMerge(t *testing.T) {
	t.Parallel()
	c, app := mustOpenFakeApp(t, "waitenv.example.com", 2)
	first := sendOp("the deploy", true, func(p cluster.ProgressFunc) (*cluster.DeployResult, error) {
		return c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage2}, p)
	})
	first.await(t, first.atRev, "reach its revision step")
	var envs []*opCall
	for _, kv := range [][2]string{{"A", "1"}, {"B", "2"}, {"C", "3"}} {
		call := sendOp("the env change of "+kv[0], false, func(p cluster.ProgressFunc) (*cluster.DeployResult, error) {
			return c.SetEnv(waitCtx(time.Hour), app, kv[0], kv[1], p)
		})
		call.await(t, call.waiting, "report that it waits")
		envs = append(envs, call)
	}
	close(first.released)
	first.await(t, first.done, "answer")
	for _, call := range envs {
		call.await(t, call.done, "answer")
		if call.err != nil || call.res.Revision != 3 {
			t.Fatalf("%s = %+v, %v; want revision 3, with the other two", call.name, call.res, call.err)
		}
	}
	if a, _ := c.DB.App(app); a.Revision != 3 || a.Envs["A"] != "1" || a.Envs["B"] != "2" || a.Envs["C"] != "3" || a.Image != goodImage2 {
		t.Fatalf("app = revision %d, envs %v, image %s", a.Revision, a.Envs, a.Image)
	}
}
