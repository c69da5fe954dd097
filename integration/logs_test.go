//go:build integration

package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/command"

	"github.com/longshoreman/longshoreman/cli"
	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// lineLog collects the lines a stream delivers, for a test to wait on.
type lineLog[T any] struct {
	mu    sync.Mutex // guards lines
	lines []T
}

func (l *lineLog[T]) add(v T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, v)
}

func (l *lineLog[T]) all() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// printOn makes the test app at addr print line on its stdout.
func printOn(t *testing.T, addr, line string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Post("http://"+addr+"/log?"+url.Values{"line": {line}}.Encode(), "text/plain", nil)
	if err != nil {
		t.Fatalf("POST %s/log: %v", addr, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s/log = %s: build the test image with POST /log and point LONGSHOREMAN_TEST_IMAGE at it", addr, resp.Status)
	}
}

// goroutinesIn counts the goroutines whose stack holds fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			n++
		}
	}
	return n
}

// TestLogsFollowScaleUp follows an app's logs with `logs -f` (the CLI in
// process) and with the API's ndjson stream at once, scales the app up,
// makes the new instance print a line, and sees it in both, attributed to
// it; scales down, and sees the removed instance leave without an error
// line; then the clients go, and nothing of the streams is left running.
func TestLogsFollowScaleUp(t *testing.T) {
	// Not parallel: it counts the goroutines following logs in this process.
	hosts := testenv.Hosts(t)
	redis := testenv.StartRedis(t)
	rhost, rport, _ := net.SplitHostPort(redis.Addr)
	c := MustServe(t, filepath.Join(t.TempDir(), "ls.db"), map[string]string{"REDIS_HOST": rhost, "REDIS_PORT": rport, "LONGSHOREMAN_DRAIN": "200ms"})
	addHosts(t, c, hosts...)
	app := testenv.App(t, "logsfollow")
	mustCall(t, c, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":1}`)
	first := anyStrings(mustCall(t, c, "GET", "/"+app+"/instances", "")["instances"])
	if len(first) != 1 {
		t.Fatalf("instances after deploying one: %v", first)
	}
	old := first[0]

	// The CLI's logs -f, its output read line by line as it comes.
	cliCtx, cliStop := context.WithCancel(context.Background())
	defer cliStop()
	pr, pw := io.Pipe()
	var cliOut lineLog[string]
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			cliOut.add(sc.Text())
		}
	}()
	cliDone := make(chan error, 1)
	env := map[string]string{"LONGSHOREMAN_URL": c.URL(), "LONGSHOREMAN_TOKEN": "t0ken-0123456789", "HOME": t.TempDir()}
	var cliErr strings.Builder
	go func() {
		cliDone <- cli.Main(cliCtx, []string{"-a", app, "logs", "-f", "--tail", "1"}, strings.NewReader(""), pw, &cliErr, func(k string) string { return env[k] })
		pw.Close()
	}()

	// The API's stream, each line decoded.
	apiCtx, apiStop := context.WithCancel(context.Background())
	defer apiStop()
	req, _ := http.NewRequestWithContext(apiCtx, "GET", c.URL()+"/apps/"+app+"/logs?follow=true&tail=1", nil)
	req.Header.Set("X-Auth", "t0ken-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("GET logs?follow=true = %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	var apiOut lineLog[cluster.LogLine]
	apiDone := make(chan struct{})
	go func() {
		defer close(apiDone)
		dec := json.NewDecoder(resp.Body)
		for {
			var l cluster.LogLine
			if dec.Decode(&l) != nil {
				return
			}
			apiOut.add(l)
		}
	}()

	// Both streams follow the instance there once its last line came:
	// only then is a line it prints sure to be after their start.
	testenv.Eventually(t, 30*time.Second, "both streams following the first instance", func() bool {
		return len(cliOut.all()) > 0 && len(apiOut.all()) > 0 && goroutinesIn("scheduler.(*Scheduler).followInstance") == 2
	})
	printOn(t, old, "from the first instance")

	mustCall(t, c, "POST", "/"+app+"/scale", `{"count":2}`)
	var added string
	for _, a := range anyStrings(mustCall(t, c, "GET", "/"+app+"/instances", "")["instances"]) {
		if a != old {
			added = a
		}
	}
	if added == "" {
		t.Fatal("no new instance after scaling to 2")
	}
	printOn(t, added, "from the new instance")

	want := []string{old + " from the first instance", added + " from the new instance"}
	defer func() {
		if t.Failed() {
			t.Logf("logs -f printed:\n%s\nstderr: %s", strings.Join(cliOut.all(), "\n"), cliErr.String())
			t.Logf("the API stream sent: %+v", apiOut.all())
		}
	}()
	testenv.Eventually(t, 30*time.Second, "logs -f printing the lines of both instances", func() bool {
		out := cliOut.all()
		return slices.Contains(out, want[0]) && slices.Contains(out, want[1])
	})
	var fromNew cluster.LogLine
	testenv.Eventually(t, 30*time.Second, "the API stream sending the new instance's line", func() bool {
		for _, l := range apiOut.all() {
			if l.Line == "from the new instance" {
				fromNew = l
				return true
			}
		}
		return false
	})
	newHost, _, _ := net.SplitHostPort(added)
	if fromNew.Instance != added || fromNew.Host != newHost || fromNew.Stream != "stdout" || time.Since(fromNew.Time) > time.Minute {
		t.Errorf("the new instance's line = %+v; want it from %s on stdout, with its time", fromNew, added)
	}

	// Scaling down removes one of the two; it leaves both streams quietly.
	mustCall(t, c, "POST", "/"+app+"/scale", `{"count":1}`)
	left := anyStrings(mustCall(t, c, "GET", "/"+app+"/instances", "")["instances"])
	if len(left) != 1 {
		t.Fatalf("instances after scaling to 1: %v", left)
	}
	testenv.Eventually(t, 60*time.Second, "the removed instance's followers gone", func() bool {
		return goroutinesIn("scheduler.(*Scheduler).followInstance") == 2
	})
	printOn(t, left[0], "after the scale-down")
	testenv.Eventually(t, 30*time.Second, "the line printed after the scale-down", func() bool {
		return slices.Contains(cliOut.all(), left[0]+" after the scale-down")
	})
	for _, l := range apiOut.all() {
		if l.Error != "" {
			t.Errorf("error line in the stream: %+v", l)
		}
	}
	for _, l := range cliOut.all() {
		if strings.Contains(l, "unavailable") {
			t.Errorf("logs -f printed %q", l)
		}
	}

	// The clients go: the CLI returns without an error, and every
	// goroutine of both streams ends.
	cliStop()
	apiStop()
	select {
	case err := <-cliDone:
		if err != nil {
			t.Errorf("logs -f after interrupt = %v (stderr %q); want nil", err, cliErr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("logs -f still running 30s after its context ended")
	}
	<-apiDone
	testenv.Eventually(t, 30*time.Second, "no goroutine of a log stream left", func() bool {
		return goroutinesIn("(*Scheduler).FollowLogs") == 0 && goroutinesIn("(*Scheduler).followInstance") == 0 &&
			goroutinesIn("docker.(*Engines).StreamLogs") == 0 && goroutinesIn("http.(*Server).followLogs") == 0
	})
}

// TestLogsFollowThroughFollower follows an app's logs through a
// controller that does not lead, with a write timeout of one second: the
// follower forwards the stream to the leader, and a line printed after the
// write timeout still arrives.
func TestLogsFollowThroughFollower(t *testing.T) {
	// Not parallel: it counts the goroutines following logs in this process.
	hosts := testenv.Hosts(t)
	url := etcdTestURL(t)
	var ctrls []*command.ServeCommand
	var urls []string
	for range 2 {
		base := map[string]string{"LONGSHOREMAN_TOKEN": "t0ken-0123456789", "REDIS_PORT": "1", "LONGSHOREMAN_INIT": "1",
			"LONGSHOREMAN_LEASE": testLease.String(), "LONGSHOREMAN_DRAIN": "300ms", "DOCKER_PORT": fmt.Sprint(testenv.DockerPort(t))}
		for k, v := range etcdServeEnv(t, url) {
			base[k] = v
		}
		c := mustOpenServe(t, base, io.Discard, func(cfg *command.ServeConfig) { cfg.Timeouts = command.ServerTimeouts{Write: time.Second} })
		ctrls, urls = append(ctrls, c), append(urls, c.URL())
	}
	leader := waitLeader(t, urls, 30*time.Second)
	lc, follower := ctrls[leader], urls[1-leader]
	mustCall(t, lc, "POST", "/hosts", `{"host":"`+hosts[0]+`"}`)
	app := testenv.App(t, "logsforward")
	mustCall(t, lc, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":1}`)
	inst := anyStrings(mustCall(t, lc, "GET", "/"+app+"/instances", "")["instances"])[0]

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", follower+"/apps/"+app+"/logs?follow=true&tail=1", nil)
	req.Header.Set("X-Auth", "t0ken-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan cluster.LogLine, 100)
	go func() {
		defer close(lines)
		dec := json.NewDecoder(resp.Body)
		for {
			var l cluster.LogLine
			if dec.Decode(&l) != nil {
				return
			}
			lines <- l
		}
	}()
	testenv.Receive(t, lines, 30*time.Second, "first line through the follower", func(cluster.LogLine) bool { return true })
	time.Sleep(2500 * time.Millisecond) // past the write timeout
	printOn(t, inst, "after the write timeout")
	testenv.Receive(t, lines, 30*time.Second, "line printed after the write timeout, through the follower", func(l cluster.LogLine) bool {
		return l.Line == "after the write timeout" && l.Instance == inst
	})
}
