package leadership_test

import (
	"context"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/fakeelection"
	"github.com/longshoreman/longshoreman/leadership"
	"github.com/longshoreman/longshoreman/scheduler"
)

// reads are the methods of scheduler.Store that change nothing an
// operation decides (RoutingTable raises the table's version, which is
// derived from what the writes left).
var reads = map[string]bool{
	"App": true, "AllApps": true, "Hosts": true, "HasHost": true, "Revision": true, "Revisions": true,
	"Deploying": true, "RoutingTable": true, "Instances": true, "AllInstances": true, "Task": true, "RunningTasks": true,
	"Apps": true, "Tasks": true, "Job": true, "Jobs": true, "AllJobs": true,
	// SetHistory sets how many revisions writes keep: the store's
	// setting, made once at start, not a write of an operation.
	"SetHistory": true,
}

// untouchable is a store every call of which fails the test: what the
// fence must not reach.
type untouchable struct {
	scheduler.Store // nil: any method not overridden panics
}

// TestStoreFencesEveryWrite: every method of the scheduler's store is a
// read, or a write that an operation of an ended term cannot make (it
// fails with EUNAVAILABLE before reaching the store). A method added to
// scheduler.Store fails this test until the fence knows it.
func TestStoreFencesEveryWrite(t *testing.T) {
	t.Parallel()
	election := fakeelection.New("p", "http://p.example")
	l := leadership.New(leadership.Config{Store: untouchable{}, Election: election})
	ctx, cancel := context.WithCancel(context.Background())
	terms := make(chan context.Context, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(ctx, func(tctx context.Context) { terms <- tctx; <-tctx.Done() })
	}()
	defer func() { cancel(); <-done }()
	election.Win()
	<-terms
	op, end, err := l.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer end()
	election.Lose()

	fenced := reflect.ValueOf(l.Store(op))
	storeType := reflect.TypeOf((*scheduler.Store)(nil)).Elem()
	var writes []string
	for i := range storeType.NumMethod() {
		m := storeType.Method(i)
		if reads[m.Name] {
			continue
		}
		writes = append(writes, m.Name)
		args := make([]reflect.Value, m.Type.NumIn())
		for j := range args {
			args[j] = reflect.Zero(m.Type.In(j))
		}
		if m.Name == "CreateRevision" {
			args[0] = reflect.ValueOf(&cluster.Revision{App: "a.example.com"})
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s of an ended term reached the store (%v): add it to the fence (store.go), or to reads here if it changes nothing", m.Name, r)
				}
			}()
			out := fenced.MethodByName(m.Name).Call(args)
			err, _ := out[len(out)-1].Interface().(error)
			if cluster.ErrorCode(err) != cluster.EUNAVAILABLE {
				t.Errorf("%s of an ended term: %v, want EUNAVAILABLE", m.Name, err)
			}
		}()
	}
	sort.Strings(writes)
	t.Logf("fenced writes: %v", writes)
}

// recordingEngines is a fake of the hosts that records the mutating calls
// that reach it; Run blocks until its context ends, as a slow start.
type recordingEngines struct {
	scheduler.Engines // nil: the calls under test are overridden
	calls             chan string
	release           chan struct{} // RunTask returns when closed
}

func (e *recordingEngines) Run(ctx context.Context, spec cluster.ContainerSpec) (cluster.Container, error) {
	e.calls <- "Run"
	<-ctx.Done()
	return cluster.Container{}, ctx.Err()
}

func (e *recordingEngines) Stop(ctx context.Context, host, id string, timeout time.Duration) error {
	e.calls <- "Stop"
	return nil
}

func (e *recordingEngines) RunTask(ctx context.Context, spec cluster.ContainerSpec, timeout time.Duration, output func(cluster.TaskLine)) (cluster.TaskResult, error) {
	e.calls <- "RunTask"
	select {
	case <-e.release:
		return cluster.TaskResult{ExitCode: 0}, nil
	case <-ctx.Done():
		return cluster.TaskResult{}, ctx.Err()
	}
}

// TestEnginesFenceByTerm: a Docker call in flight is cancelled when its
// term ends, and a call of an ended term never reaches the hosts, even once
// the process leads again; a task started in a term runs on after it.
func TestEnginesFenceByTerm(t *testing.T) {
	t.Parallel()
	p := startProcess(t, openDB(t))
	rec := &recordingEngines{calls: make(chan string, 10), release: make(chan struct{})}
	engines := p.Engines(rec)
	p.win(t)
	op, end, err := p.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer end()
	// Operations run detached from their requests: the term alone ends
	// the call.
	detached := context.WithoutCancel(op)
	running := make(chan error, 1)
	go func() {
		_, err := engines.Run(detached, cluster.ContainerSpec{App: "a.example.com", Host: "127.0.0.1"})
		running <- err
	}()
	if call := <-rec.calls; call != "Run" {
		t.Fatalf("call %s", call)
	}
	task := make(chan error, 1)
	go func() {
		_, err := engines.RunTask(detached, cluster.ContainerSpec{App: "a.example.com", Host: "127.0.0.1", Task: "t"}, time.Minute, nil)
		task <- err
	}()
	if call := <-rec.calls; call != "RunTask" {
		t.Fatalf("call %s", call)
	}

	p.election.Lose()
	select {
	case err := <-running:
		if err == nil {
			t.Fatal("a Run in flight ended without error at the end of its term")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a Run in flight was not cancelled when its term ended")
	}
	p.win(t)
	wantUnavailable(t, "a Stop of the ended term", engines.Stop(detached, "127.0.0.1", "c", time.Second))
	_, err = engines.Pull(detached, "127.0.0.1", "img")
	wantUnavailable(t, "a Pull of the ended term", err)
	_, err = engines.RunTask(detached, cluster.ContainerSpec{App: "a.example.com", Host: "127.0.0.1", Task: "u"}, time.Minute, nil)
	wantUnavailable(t, "a task started in the ended term", err)
	select {
	case call := <-rec.calls:
		t.Fatalf("%s of the ended term reached the hosts", call)
	default:
	}

	select {
	case err := <-task:
		t.Fatalf("the task begun in the ended term was cut short: %v", err)
	default:
	}
	close(rec.release)
	if err := <-task; err != nil {
		t.Fatalf("the task begun in the ended term: %v", err)
	}
}

// TestFencedWriteCarriesTheAuditEntry: the store an operation writes
// through stores the audit entry its context carries in its first
// write, still fenced by the term.
func TestFencedWriteCarriesTheAuditEntry(t *testing.T) {
	t.Parallel()
	d := openDB(t)
	l := leadership.New(leadership.Config{Store: d})
	w := &cluster.AuditWrite{Entry: func() cluster.AuditEntry {
		return cluster.AuditEntry{Time: time.Now(), Token: "root", Operation: cluster.OpAddHost, Status: 200, Outcome: cluster.AuditOK}
	}}
	op, end, err := l.Begin(cluster.WithAuditWrite(context.Background(), w))
	if err != nil {
		t.Fatal(err)
	}
	defer end()
	if _, err := l.Store(op).AddHost("127.0.0.9"); err != nil {
		t.Fatal(err)
	}
	entries, err := d.Audit(cluster.AuditFilter{})
	if err != nil || !w.Stored() || len(entries) != 1 || entries[0].Operation != cluster.OpAddHost {
		t.Fatalf("after a fenced write carrying an entry: stored %v, entries %+v, %v; want the one entry", w.Stored(), entries, err)
	}
}
