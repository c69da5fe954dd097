package scheduler

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// A one-off task's container outlives the controller that started it: it
// runs to its own end or deadline (LabelTaskDeadline) whatever happens to
// that controller. Whichever controller leads finishes its record: each
// reconcile pass finds the task containers that no goroutine of this
// controller follows (planTasks), records the end of each one that exited,
// or kills one past its deadline and records it as timed out, and only
// then removes the container (endTask); a task recorded running whose
// container is gone is recorded as lost (loseTasks). None of it takes the
// app's lock: tasks run beside the app's operations.

// taskSet is what this controller knows of one-off tasks: the ones it
// follows (a runTask goroutine waits for each), and the records in state
// running, read from the store when a reconciler begins and kept current
// by every task record this controller writes. The zero value is empty
// and ready; it is safe for concurrent use.
type taskSet struct {
	mu      sync.Mutex // guards the fields below
	ids     map[string]bool
	running map[string]cluster.Task // task id -> its record, in state running
}

func (t *taskSet) follow(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ids == nil {
		t.ids = map[string]bool{}
	}
	t.ids[id] = true
}

func (t *taskSet) unfollow(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.ids, id)
}

// followed returns a copy of the followed task ids.
func (t *taskSet) followed() map[string]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]bool, len(t.ids))
	for id := range t.ids {
		out[id] = true
	}
	return out
}

// track keeps rec among the running records while its state is running,
// and drops it otherwise.
func (t *taskSet) track(rec cluster.Task) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.running == nil {
		t.running = map[string]cluster.Task{}
	}
	if rec.State == cluster.TaskRunning {
		t.running[rec.ID] = rec
	} else {
		delete(t.running, rec.ID)
	}
}

func (t *taskSet) untrack(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.running, id)
}

// load adds records read from the store. One that ended since it was read
// may come back; the executor reads the store again before it acts on
// one (see loseTasks), and drops it then.
func (t *taskSet) load(records []cluster.Task) {
	for _, rec := range records {
		t.track(rec)
	}
}

// runningByApp returns the running records by app.
func (t *taskSet) runningByApp() map[string][]cluster.Task {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string][]cluster.Task{}
	for _, rec := range t.running {
		out[rec.App] = append(out[rec.App], rec)
	}
	return out
}

// recordTask stores rec and keeps the running records current. The write
// is held to ctx's leadership term: after the term, the next leader
// records the task from its container.
func (s *Scheduler) recordTask(ctx context.Context, rec cluster.Task) error {
	err := s.fenced(ctx).PutTask(rec)
	switch {
	case err == nil:
		s.tasks.track(rec)
	case cluster.ErrorCode(err) == cluster.ENOTFOUND:
		s.tasks.untrack(rec.ID) // its app is gone, and its tasks with it
	}
	return err
}

// removeTaskContainer removes a task's container once its end is
// recorded (killing it first when it still runs).
func (s *Scheduler) removeTaskContainer(ctx context.Context, host, id string) {
	if id == "" {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.engines.Stop(sctx, host, id, 0); err != nil {
		s.cfg.Logger.Warn("removing a task's container failed; the reconciler will retry", "host", host, "container", short(id), "err", cluster.ErrorMessage(err))
	}
}

// LostTask is a task recorded running whose container is gone, with why
// it is taken for lost.
type LostTask struct {
	Task   cluster.Task
	Reason string
}

// planTasks decides, without touching anything, what becomes of an app's
// tasks that no goroutine of this controller follows: a task container
// that exited, or that still runs past its deadline, is ended (its end
// recorded, then the container removed); a task recorded running whose container is not
// on its host, which answered, or whose host is down or left the cluster,
// is lost. A container that runs within its deadline, a record newer than
// the observation, and one whose host is late to answer are left alone.
func planTasks(s AppState) (end []cluster.Container, lost []LostTask) {
	seen := map[string]bool{}
	for _, ct := range s.Containers {
		if ct.Task == "" {
			continue
		}
		seen[ct.Task] = true
		if s.Tasks[ct.Task] || (ct.Running && ct.TaskDeadline.After(s.ObservedAt)) {
			continue
		}
		end = append(end, ct)
	}
	for _, rec := range s.TaskRecords {
		if s.Tasks[rec.ID] || seen[rec.ID] || rec.Started.After(s.ObservedAt) {
			continue
		}
		switch {
		case s.Hosts != nil && !s.Hosts[rec.Host]:
			lost = append(lost, LostTask{rec, fmt.Sprintf("Its host %s left the cluster while it ran.", rec.Host)})
		case s.HostDown[rec.Host]:
			lost = append(lost, LostTask{rec, fmt.Sprintf("Its host %s stopped answering while it ran; if the host comes back with its container, its end is recorded then.", rec.Host)})
		case s.HostUp[rec.Host]:
			lost = append(lost, LostTask{rec, fmt.Sprintf("Its container is gone from %s without its exit seen: it was removed by hand, or the host's Docker lost it.", rec.Host)})
		}
	}
	return end, lost
}

// endTasks carries out, in a goroutine counted by wg, what planTasks
// decides for one app's tasks that no goroutine of this controller
// follows; a task whose end a goroutine of an earlier pass still records
// is left to it.
func (r *Reconciler) endTasks(ctx context.Context, wg *sync.WaitGroup, st AppState) {
	end, lost := planTasks(st)
	r.mu.Lock()
	end = slices.DeleteFunc(end, func(ct cluster.Container) bool { return r.ending[ct.Task] })
	lost = slices.DeleteFunc(lost, func(l LostTask) bool { return r.ending[l.Task.ID] })
	for _, ct := range end {
		r.ending[ct.Task] = true
	}
	for _, l := range lost {
		r.ending[l.Task.ID] = true
	}
	r.mu.Unlock()
	if len(end)+len(lost) == 0 {
		return
	}
	wg.Go(func() {
		defer func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			for _, ct := range end {
				delete(r.ending, ct.Task)
			}
			for _, l := range lost {
				delete(r.ending, l.Task.ID)
			}
		}()
		r.s.endTasks(ctx, end)
		r.s.loseTasks(ctx, lost)
	})
}

// endTasks ends the task containers planTasks picked, one at a time.
func (s *Scheduler) endTasks(ctx context.Context, cts []cluster.Container) {
	for _, ct := range cts {
		if ctx.Err() != nil {
			return
		}
		s.endTask(ctx, ct)
	}
}

// endTask records how the task of ct ended, from the container itself (its
// exit code and last output lines), then removes it; one still running
// past its deadline is recorded as timed out, then killed. A task whose
// end is recorded already only has its container removed; one whose
// record is gone (pruned, or its app deleted) gets a new one, or none when
// its app is gone. Nothing is removed unless the end was recorded: a
// failure leaves the container for the next pass.
func (s *Scheduler) endTask(ctx context.Context, ct cluster.Container) {
	rec, err := s.store.Task(ct.App, ct.Task)
	switch {
	case cluster.ErrorCode(err) == cluster.ENOTFOUND:
		rec = &cluster.Task{ID: ct.Task, App: ct.App, Revision: ct.Revision, Host: ct.Host, State: cluster.TaskRunning, Deadline: ct.TaskDeadline}
	case err != nil:
		return
	case rec.Ended():
		s.tasks.untrack(rec.ID)
		s.removeTaskContainer(ctx, ct.Host, ct.ID)
		return
	}
	ictx, cancel := context.WithTimeout(ctx, s.cfg.PingTimeout)
	info, err := s.engines.Inspect(ictx, ct.Host, ct.ID)
	cancel()
	if err != nil {
		return // gone meanwhile (then lost, next pass), or the host failed
	}
	now := time.Now()
	if info.Running && info.TaskDeadline.After(now) {
		return // paused, or listed as not running by mistake: within its deadline
	}
	lctx, cancel := context.WithTimeout(ctx, s.cfg.PingTimeout)
	lines, _ := s.engines.Logs(lctx, ct.Host, ct.ID, cluster.TaskTailLines)
	cancel()
	switch {
	case info.Running:
		rec.End(cluster.TaskResult{ExitCode: 137, TimedOut: true}, lines, now)
	case info.State == "created":
		rec.Fail("Its container was created but never started: the controller that ran it stopped first.", now)
	default:
		rec.End(cluster.TaskResult{ExitCode: info.ExitCode}, lines, now)
	}
	if err := s.recordTask(ctx, *rec); err != nil && cluster.ErrorCode(err) != cluster.ENOTFOUND {
		s.cfg.Logger.Warn("recording the end of a task failed; retrying next pass", "app", ct.App, "task", ct.Task, "err", cluster.ErrorMessage(err))
		return
	}
	msg := describeEnd(rec)
	s.removeTaskContainer(ctx, ct.Host, ct.ID)
	s.cfg.Logger.Info("recorded the end of a task its controller no longer followed", "app", ct.App, "host", ct.Host, "task", ct.Task, "result", msg)
	s.emit(cluster.Event{Type: cluster.EventTask, Step: "exited", App: ct.App, Revision: ct.Revision, Host: ct.Host, Message: msg})
}

// loseTasks records as lost each task planTasks found without its
// container, when it is still recorded running (read again: it may have
// ended since it was observed).
func (s *Scheduler) loseTasks(ctx context.Context, lost []LostTask) {
	for _, l := range lost {
		rec, err := s.store.Task(l.Task.App, l.Task.ID)
		if err != nil || rec.State != cluster.TaskRunning {
			if err == nil || cluster.ErrorCode(err) == cluster.ENOTFOUND {
				s.tasks.untrack(l.Task.ID)
			}
			continue
		}
		rec.Lose(l.Reason, time.Now())
		if err := s.recordTask(ctx, *rec); err != nil {
			continue
		}
		s.cfg.Logger.Warn("task lost", "app", rec.App, "host", rec.Host, "task", rec.ID, "reason", l.Reason)
		s.emit(cluster.Event{Type: cluster.EventTask, Step: "lost", App: rec.App, Revision: rec.Revision, Host: rec.Host, Message: l.Reason})
	}
}

// describeEnd says how a recorded task ended, for the log and events.
func describeEnd(t *cluster.Task) string {
	switch {
	case t.TimedOut:
		return fmt.Sprintf("timed out at its deadline (%s) and was killed", t.Deadline.Format(time.RFC3339))
	case t.ExitCode != nil:
		return fmt.Sprintf("exit code %d", *t.ExitCode)
	}
	return t.Error
}
