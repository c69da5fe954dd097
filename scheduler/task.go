package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// RunTask runs command once as a one-off task of app's current revision
// (its image and envs, memory and CPU limits) on the least loaded host that
// answers, passing each output line to output (which may be nil) as it
// comes, and returns its exit code, or TimedOut when it ran past timeout
// and was killed. The container is never routed nor counted as an
// instance. It does not hold the app: tasks run beside deploys and each
// other.
//
// The task is recorded in the store (see cluster.Task) before its
// container is created, and its end (exit code, last output lines) before
// its container is removed. Its container runs to its own end or timeout
// whatever happens to ctx or to this controller: ctx only bounds the wait.
// When the wait ends first, RunTask returns an EUNAVAILABLE error saying
// so, the record stays running, and the reconciler of whichever controller
// leads records the end (see planTasks).
func (s *Scheduler) RunTask(ctx context.Context, app string, command []string, timeout time.Duration, output func(cluster.TaskLine)) (cluster.TaskResult, error) {
	ctx, end, err := s.begin(ctx)
	if err != nil {
		return cluster.TaskResult{}, err
	}
	defer end()
	a, err := s.store.App(app)
	if err != nil {
		return cluster.TaskResult{}, err
	}
	if err := notDeleting(a); err != nil {
		return cluster.TaskResult{}, err
	}
	if !a.Deployed() {
		return cluster.TaskResult{}, cluster.Errorf(cluster.EINVALID, "App %s has never been deployed, so it has no image to run a task of", app).WithFix("deploy an image first with", cluster.OpDeploy, cluster.ArgApp, app)
	}
	rev, err := s.store.Revision(app, a.Revision)
	if err != nil {
		return cluster.TaskResult{}, err
	}
	return s.runTask(ctx, rev, taskRun{command: command, timeout: timeout, output: output})
}

// taskRun is what runTask runs, and for whom.
type taskRun struct {
	command  []string
	release  bool   // a deploy's release command
	job      string // the scheduled job it is a run of
	timeout  time.Duration
	progress cluster.ProgressFunc   // may be nil
	output   func(cluster.TaskLine) // may be nil
	// claim, when set, writes the task's first record in place of
	// recordTask: a job's run is claimed in that same write, and a
	// refused claim starts nothing.
	claim func(ctx context.Context, rec cluster.Task) error
}

// runTask pulls rev's image on the least loaded host that answers and runs
// t's command there as a one-off task with rev's envs, followed by this
// controller while it runs (s.tasks): recorded running, run, its end
// recorded, its container removed.
func (s *Scheduler) runTask(ctx context.Context, rev *cluster.Revision, t taskRun) (cluster.TaskResult, error) {
	defer s.images.use(rev.Image)() // not pruned while it is pulled and started
	command, timeout, output := t.command, t.timeout, t.output
	report := func(p cluster.Progress) {
		if t.progress != nil {
			t.progress(p)
		}
	}
	host, err := s.taskPlace(ctx, rev, report)
	if err != nil {
		return cluster.TaskResult{Host: host}, err
	}
	id := taskID()
	// Followed before it is recorded: the reconciler never takes a task
	// this controller runs for one whose controller stopped.
	s.tasks.follow(id)
	defer s.tasks.unfollow(id)
	start := time.Now().UTC()
	rec := cluster.Task{ID: id, App: rev.App, Revision: rev.Number, Command: command, Release: t.release, Job: t.job, Host: host,
		State: cluster.TaskRunning, Started: start, Deadline: start.Add(timeout)}
	record := s.recordTask
	if t.claim != nil {
		record = t.claim
	}
	if err := record(ctx, rec); err != nil {
		return cluster.TaskResult{Task: id, Host: host}, err
	}
	s.cfg.Logger.Info("task started", "app", rev.App, "revision", rev.Number, "host", host, "task", id, "command", strings.Join(command, " "))
	s.emit(cluster.Event{Type: cluster.EventTask, Step: "started", App: rev.App, Revision: rev.Number, Host: host, Message: strings.Join(command, " ")})
	var tail cluster.TaskTail
	res, err := s.engines.RunTask(ctx, cluster.ContainerSpec{
		App: rev.App, Revision: rev.Number, Host: host, Controller: s.cfg.Controller,
		Image: rev.Image, Env: containerEnv(rev), Command: command, Memory: rev.Memory, CPUs: rev.CPUs, Task: id, TaskDeadline: rec.Deadline,
	}, timeout, func(l cluster.TaskLine) {
		tail.Add(l)
		if output != nil {
			output(l)
		}
	})
	res.Task, res.Host = id, host
	took := time.Since(start).Round(time.Millisecond)
	msg, ended := fmt.Sprintf("exit code %d", res.ExitCode), true
	switch {
	case err != nil && res.Started:
		// The container runs on; whichever controller leads records its end.
		why := cluster.ErrorMessage(err)
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			why = "this controller is stopping, or no longer leads"
		}
		err = cluster.Errorf(cluster.EUNAVAILABLE, "The wait for task %s of %s ended (%s) while it runs on %s: the task runs on to its end or its timeout (%s), and the controller that leads records how it ended", id, rev.App, why, host, timeout).WithFix("see it with", cluster.OpTasks, cluster.ArgApp, rev.App)
		msg, ended = "no longer followed: "+cluster.ErrorMessage(err), false
	case err != nil:
		rec.Fail("It did not start: "+cluster.ErrorMessage(err), time.Now())
		_ = s.recordTask(ctx, rec)
		msg = cluster.ErrorMessage(err)
	default:
		if res.TimedOut {
			msg = fmt.Sprintf("timed out after %s and was killed", timeout)
		}
		rec.End(res, tail.Lines(), time.Now())
		if rerr := s.recordTask(ctx, rec); rerr != nil {
			// Left for the reconciler, which records it from the container.
			s.cfg.Logger.Warn("recording a task's end failed; the reconciler records it", "app", rev.App, "task", id, "err", cluster.ErrorMessage(rerr))
			break
		}
		s.removeTaskContainer(ctx, host, res.Container)
	}
	if !ended {
		s.cfg.Logger.Warn("task runs on, no longer followed by this controller", "app", rev.App, "host", host, "task", id, "result", msg, "duration", took)
		return res, err
	}
	s.cfg.Logger.Info("task ended", "app", rev.App, "host", host, "task", id, "result", msg, "duration", took)
	s.emit(cluster.Event{Type: cluster.EventTask, Step: "exited", App: rev.App, Revision: rev.Number, Host: host, Message: msg, Elapsed: took.Milliseconds()})
	return res, err
}

// taskPlace picks the host a task of rev runs on (taskHost) and pulls
// rev's image there; a pull that failed while the image is on the host is
// reported as a warning, and the task runs with that image.
func (s *Scheduler) taskPlace(ctx context.Context, rev *cluster.Revision, report func(cluster.Progress)) (string, error) {
	host, err := s.taskHost(ctx, rev.App, int64(rev.Memory))
	if err != nil {
		return "", err
	}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.PullTimeout)
	warning, err := s.engines.Pull(pctx, host, rev.Image)
	cancel()
	if err != nil {
		return host, err
	}
	if warning != "" {
		s.cfg.Logger.Warn("pull failed; using the image already on the host", "host", host, "image", rev.Image, "reason", warning)
		report(cluster.Progress{Step: "warning", Host: host, Message: warning})
	}
	return host, nil
}

// taskHost picks the host a task of app runs on: of the hosts that answer
// and are not draining, and whose memory not reserved by instances covers
// the task's limit, the one with the fewest instances, then the most free
// memory (see PlaceSized). The task reserves nothing while it runs: it is
// short-lived and never counted as an instance.
func (s *Scheduler) taskHost(ctx context.Context, app string, memory int64) (string, error) {
	all, err := s.store.AllInstances()
	if err != nil {
		return "", err
	}
	hosts, err := s.store.Hosts()
	if err != nil {
		return "", err
	}
	load, reserved := hostLoad(all), map[string]int64{}
	for _, inst := range all {
		reserved[inst.Host] += int64(inst.Memory)
	}
	var candidates []HostLoad
	for _, h := range s.hostsUp(ctx, nil) {
		candidates = append(candidates, HostLoad{Addr: h.Addr, Instances: load[h.Addr], FreeMemory: h.FreeMemory - reserved[h.Addr]})
	}
	picks := PlaceSized(1, memory, candidates, nil)
	if len(picks) == 0 {
		if len(candidates) > 0 {
			return "", cluster.Errorf(cluster.EUNAVAILABLE, "No host has the %s of memory free that a task of %s needs (its revision's memory limit)", approxBytes(memory), app).WithFix("free some or add a host; see the hosts with", cluster.OpStatus)
		}
		return "", Plan{App: app, HostCount: len(hosts)}.noHost()
	}
	return picks[0], nil
}

// release runs rev's release command, when it has one, as a one-off task
// of rev (its image, its envs) before anything of rev starts. A non-zero
// exit or a timeout is an EDEPLOY error carrying the last output lines:
// the caller fails the revision and touches nothing that serves.
func (s *Scheduler) release(ctx context.Context, c *change, rev *cluster.Revision) error {
	if len(rev.Release) == 0 {
		return nil
	}
	command := strings.Join(rev.Release, " ")
	c.report(cluster.Progress{Step: "release", Message: command})
	var tail cluster.TaskTail
	res, err := s.runTask(ctx, rev, taskRun{command: rev.Release, release: true, timeout: cluster.DefaultTaskTimeout, progress: c.report, output: tail.Add})
	host := res.Host
	if err != nil {
		return err
	}
	lines := strings.Join(tail.Lines(), " | ")
	if lines != "" {
		lines = " Its last output lines: " + lines
	}
	const untouched = " Nothing was started or stopped: the instances that were running still serve."
	switch {
	case res.TimedOut:
		return cluster.Errorf(cluster.EDEPLOY, "The release command (%s) ran on %s for longer than %s and was killed.%s%s", command, host, cluster.DefaultTaskTimeout, lines, untouched)
	case res.ExitCode != 0:
		return cluster.Errorf(cluster.EDEPLOY, "The release command (%s) exited with code %d on %s.%s%s", command, res.ExitCode, host, lines, untouched)
	}
	c.report(cluster.Progress{Step: "released", Host: host, Message: command})
	return nil
}

// taskID returns a new random task id.
func taskID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// FollowedTasks returns the ids of the one-off tasks this controller
// follows while they run.
func (s *Scheduler) FollowedTasks() map[string]bool { return s.tasks.followed() }
