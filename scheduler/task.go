package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// taskSet is the one-off tasks this controller runs, by task id: the
// reconciler leaves their containers alone, and removes a task container
// whose id is not here (its controller died while it ran). The zero value
// is empty and ready.
type taskSet struct {
	mu  sync.Mutex // guards ids
	ids map[string]bool
}

func (t *taskSet) add(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ids == nil {
		t.ids = map[string]bool{}
	}
	t.ids[id] = true
}

func (t *taskSet) remove(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.ids, id)
}

// snapshot returns a copy of the running task ids.
func (t *taskSet) snapshot() map[string]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]bool, len(t.ids))
	for id := range t.ids {
		out[id] = true
	}
	return out
}

// RunTask runs command once as a one-off task of app's current revision
// (its image and envs, memory and CPU limits) on the least loaded host that
// answers, passing each output line to output (which may be nil) as it
// comes, and returns its exit code, or TimedOut when it ran past timeout
// and was killed. The container is never routed nor counted as an
// instance and is removed once it ends. It does not hold the app: tasks
// run beside deploys and each other.
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
	res, _, err := s.runTask(ctx, rev, command, timeout, nil, output)
	return res, err
}

// runTask pulls rev's image on the least loaded host that answers and runs
// command there as a one-off task with rev's envs, tracked in s.tasks
// while it runs. It returns the host it ran on.
func (s *Scheduler) runTask(ctx context.Context, rev *cluster.Revision, command []string, timeout time.Duration, progress cluster.ProgressFunc, output func(cluster.TaskLine)) (cluster.TaskResult, string, error) {
	report := func(p cluster.Progress) {
		if progress != nil {
			progress(p)
		}
	}
	host, err := s.taskHost(ctx, rev.App, int64(rev.Memory))
	if err != nil {
		return cluster.TaskResult{}, "", err
	}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.PullTimeout)
	warning, err := s.engines.Pull(pctx, host, rev.Image)
	cancel()
	if err != nil {
		return cluster.TaskResult{}, host, err
	}
	if warning != "" {
		s.cfg.Logger.Warn("pull failed; using the image already on the host", "host", host, "image", rev.Image, "reason", warning)
		report(cluster.Progress{Step: "warning", Host: host, Message: warning})
	}
	id := taskID()
	s.tasks.add(id)
	defer s.tasks.remove(id)
	start := time.Now()
	s.cfg.Logger.Info("task started", "app", rev.App, "revision", rev.Number, "host", host, "task", id, "command", strings.Join(command, " "))
	s.emit(cluster.Event{Type: cluster.EventTask, Step: "started", App: rev.App, Revision: rev.Number, Host: host, Message: strings.Join(command, " ")})
	res, err := s.engines.RunTask(ctx, cluster.ContainerSpec{
		App: rev.App, Revision: rev.Number, Host: host, Controller: s.cfg.Controller,
		Image: rev.Image, Env: containerEnv(rev), Command: command, Memory: rev.Memory, CPUs: rev.CPUs, Task: id,
	}, timeout, output)
	took := time.Since(start).Round(time.Millisecond)
	msg := fmt.Sprintf("exit code %d", res.ExitCode)
	switch {
	case err != nil:
		msg = cluster.ErrorMessage(err)
	case res.TimedOut:
		msg = fmt.Sprintf("timed out after %s and was killed", timeout)
	}
	s.cfg.Logger.Info("task ended", "app", rev.App, "host", host, "task", id, "result", msg, "duration", took)
	s.emit(cluster.Event{Type: cluster.EventTask, Step: "exited", App: rev.App, Revision: rev.Number, Host: host, Message: msg, Elapsed: took.Milliseconds()})
	return res, host, err
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
	res, host, err := s.runTask(ctx, rev, rev.Release, cluster.DefaultTaskTimeout, c.report, tail.Add)
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

// RunningTasks returns the ids of the one-off tasks this controller runs.
func (s *Scheduler) RunningTasks() map[string]bool { return s.tasks.snapshot() }
