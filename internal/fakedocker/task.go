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
// exits with N, "sleep DURATION" sleeps; anything else writes its words and
// exits 0. While it runs, the task is listed as a container with Task set.
func (e *Engines) RunTask(ctx context.Context, spec cluster.ContainerSpec, timeout time.Duration, output func(cluster.TaskLine)) (cluster.TaskResult, error) {
	e.mu.Lock()
	if err := e.call("RunTask", spec.Host); err != nil {
		e.mu.Unlock()
		return cluster.TaskResult{}, err
	}
	if _, ok := e.images[spec.Image]; !ok {
		e.mu.Unlock()
		return cluster.TaskResult{}, cluster.Errorf(cluster.EHOST, "Image %s is not on %s: pull it first.", spec.Image, spec.Host)
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	c := &container{spec: spec, Container: cluster.Container{
		ID: hex.EncodeToString(b[:]), App: spec.App, Revision: spec.Revision, Host: spec.Host,
		Controller: spec.Controller, Image: spec.Image, Task: spec.Task, Running: true, State: "running",
	}}
	e.containers[c.ID] = c
	e.emitLocked(c, "start")
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if c.Running {
			e.exitLocked(c, 0, "die")
		}
		delete(e.containers, c.ID)
		e.emitLocked(c, "destroy")
	}()

	say := func(line string) {
		if output != nil {
			output(cluster.TaskLine{Stream: "stdout", Line: line})
		}
	}
	var res cluster.TaskResult
	args := spec.Command
	switch {
	case len(args) == 2 && args[0] == "exit":
		code, err := strconv.Atoi(args[1])
		if err != nil {
			return res, cluster.Errorf(cluster.EINVALID, "exit %q: not a number", args[1])
		}
		say("exiting with status " + args[1])
		res.ExitCode = code
	case len(args) == 2 && args[0] == "sleep":
		d, err := time.ParseDuration(args[1])
		if err != nil {
			return res, cluster.Errorf(cluster.EINVALID, "sleep %q: %v", args[1], err)
		}
		done, killed := time.After(d), time.After(timeout)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
	sleep:
		for {
			select {
			case <-done:
				break sleep
			case <-killed:
				res.TimedOut, res.ExitCode = true, 137
				break sleep
			case <-ctx.Done():
				return res, ctx.Err()
			case <-tick.C:
				e.mu.Lock()
				_, there := e.containers[c.ID]
				e.mu.Unlock()
				if !there { // stopped and removed by another caller
					return cluster.TaskResult{ExitCode: 137}, nil
				}
			}
		}
	case len(args) > 0 && args[0] == "echo":
		say(strings.Join(args[1:], " "))
	default:
		say(strings.Join(args, " "))
	}
	e.mu.Lock()
	e.exitLocked(c, res.ExitCode, "die")
	e.mu.Unlock()
	return res, nil
}
