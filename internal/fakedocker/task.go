package fakedocker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// RunTask implements scheduler.Engines. The command is read as the test
// app reads its arguments: "echo WORDS..." writes WORDS on stdout, "exit N"
// exits with N, "sleep DURATION" sleeps, "sleep DURATION N" sleeps then
// exits with N; anything else writes its words and exits 0. The task runs
// in the background as a container with Task and TaskDeadline set, listed
// while it runs and after it exited, until Stop removes it; its output is
// what Logs returns for it. As with Docker, the container outlives the
// call: when ctx ends first, RunTask returns ctx's error with Started set
// and the task runs on to its end.
func (e *Engines) RunTask(ctx context.Context, spec cluster.ContainerSpec, timeout time.Duration, output func(cluster.TaskLine)) (cluster.TaskResult, error) {
	res := cluster.TaskResult{Task: spec.Task, Host: spec.Host}
	e.mu.Lock()
	if err := e.call("RunTask", spec.Host); err != nil {
		e.mu.Unlock()
		return res, err
	}
	if _, ok := e.images[spec.Image]; !ok {
		e.mu.Unlock()
		return res, cluster.Errorf(cluster.EHOST, "Image %s is not on %s: pull it first.", spec.Image, spec.Host)
	}
	deadline := spec.TaskDeadline
	if deadline.IsZero() {
		deadline = time.Now().Add(timeout)
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	c := &container{spec: spec, Container: cluster.Container{
		ID: hex.EncodeToString(b[:]), App: spec.App, Revision: spec.Revision, Host: spec.Host,
		Controller: spec.Controller, Image: spec.Image, Task: spec.Task, TaskDeadline: deadline, Running: true, State: "running",
		Created: time.Now().UTC(),
	}}
	c.exited = make(chan struct{})
	e.containers[c.ID] = c
	e.emitLocked(c, "start")
	e.mu.Unlock()
	res.Container, res.Started = c.ID, true

	lines := make(chan string, 16)
	go e.runFakeTask(c, spec.Command, lines)
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				e.mu.Lock()
				res.ExitCode = c.ExitCode
				e.mu.Unlock()
				return res, nil
			}
			if output != nil {
				output(cluster.TaskLine{Stream: "stdout", Line: l})
			}
		case <-timer.C:
			e.mu.Lock()
			if c.Running {
				e.exitLocked(c, 137, "die")
			}
			e.mu.Unlock()
			res.TimedOut, res.ExitCode = true, 137
			return res, nil
		case <-ctx.Done():
			// The task runs on; its lines are dropped, as no one reads them.
			go func() {
				for range lines {
				}
			}()
			return res, ctx.Err()
		}
	}
}

// runFakeTask performs the task's command, sending each line it writes to
// lines (and keeping it for Logs), and makes the container exit with its
// code unless something stopped it first; lines is closed at the end.
func (e *Engines) runFakeTask(c *container, args []string, lines chan<- string) {
	defer close(lines)
	say := func(line string) {
		e.mu.Lock()
		c.output = append(c.output, line)
		e.mu.Unlock()
		lines <- line
	}
	code := 0
	switch {
	case len(args) >= 2 && args[0] == "exit":
		code, _ = strconv.Atoi(args[1])
		say("exiting with status " + args[1])
	case (len(args) == 2 || len(args) == 3) && args[0] == "sleep":
		d, err := time.ParseDuration(args[1])
		if err != nil {
			say("sleep " + args[1] + ": " + err.Error())
			code = 2
			break
		}
		if len(args) == 3 {
			code, _ = strconv.Atoi(args[2])
		}
		select {
		case <-time.After(d):
			say("slept " + args[1])
		case <-c.exited: // killed, or stopped and removed
			return
		}
	case len(args) > 0 && args[0] == "echo":
		say(strings.Join(args[1:], " "))
	default:
		say(strings.Join(args, " "))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if c.Running {
		e.exitLocked(c, code, "die")
	}
}

// Exit makes a running task's container write lines and exit with code,
// as its process would.
func (e *Engines) Exit(id string, code int, lines ...string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.containers[id]
	if !ok || c.Task == "" {
		return cluster.Errorf(cluster.ENOTFOUND, "No task container %s on any fake host.", id)
	}
	c.output = append(c.output, lines...)
	if c.Running {
		e.exitLocked(c, code, "die")
	}
	return nil
}
