//go:build integration

package docker_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// printLine makes the test app print line on stream through its POST /log.
func printLine(t *testing.T, addr, stream, line string) {
	t.Helper()
	u := "http://" + addr + "/log?" + url.Values{"line": {line}, "stream": {stream}}.Encode()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Post(u, "text/plain", nil)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s = %s; is the test image built with POST /log?", u, resp.Status)
	}
}

// nextLine waits for the line whose text is want, failing after a
// generous deadline; lines before it are skipped.
func nextLine(t *testing.T, lines <-chan cluster.LogLine, want string) cluster.LogLine {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the stream ended before %q", want)
			}
			if l.Line == want {
				return l
			}
		case <-deadline:
			t.Fatalf("no line %q within 30s", want)
		}
	}
}

// nextLines waits for every line in want, in any order, skipping others;
// it returns them in want's order.
func nextLines(t *testing.T, lines <-chan cluster.LogLine, want ...string) []cluster.LogLine {
	t.Helper()
	got := make([]cluster.LogLine, len(want))
	left := len(want)
	deadline := time.After(30 * time.Second)
	for left > 0 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the stream ended before %q", want)
			}
			for i, w := range want {
				if l.Line == w && got[i].Line == "" {
					got[i] = l
					left--
				}
			}
		case <-deadline:
			t.Fatalf("not every line of %q within 30s; got %+v", want, got)
		}
	}
	return got
}

func TestStreamLogsFollows(t *testing.T) {
	e := newEngines(t)
	host := testenv.Hosts(t)[0]
	ct := runApp(t, e, host)
	addr := testenv.Addr(host, ct.Port)

	ctx, cancel := context.WithCancel(ctxFor(t, 2*time.Minute))
	defer cancel()
	lines := make(chan cluster.LogLine, 100)
	done := make(chan error, 1)
	go func() {
		done <- e.StreamLogs(ctx, host, ct.ID, cluster.LogOptions{Follow: true, Tail: cluster.LogTailAll}, func(l cluster.LogLine) error {
			lines <- l
			return nil
		})
	}()
	// The line printed at start comes first, then what is printed while
	// the stream is open, from both streams.
	start := nextLine(t, lines, "testapp 1 listening on :3000")
	if start.Stream != "stdout" || start.Host != host || start.Time.IsZero() {
		t.Errorf("start line = %+v; want stdout from %s with a time", start, host)
	}
	before := time.Now()
	printLine(t, addr, "stdout", "to stdout while followed")
	printLine(t, addr, "stderr", "to stderr while followed")
	// Docker keeps no order between the two streams: take both lines in
	// whichever order they come.
	got := nextLines(t, lines, "to stdout while followed", "to stderr while followed")
	out, errl := got[0], got[1]
	if out.Stream != "stdout" || errl.Stream != "stderr" {
		t.Errorf("streams = %q, %q; want stdout, stderr", out.Stream, errl.Stream)
	}
	for _, l := range []cluster.LogLine{out, errl} {
		if l.Time.Before(before.Add(-5*time.Second)) || l.Time.After(time.Now().Add(5*time.Second)) {
			t.Errorf("line %q has time %s; want about %s", l.Line, l.Time, before)
		}
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("StreamLogs after cancel = %v; want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("StreamLogs did not return within 30s of its context's end")
	}
}

func TestStreamLogsTailSinceAndStop(t *testing.T) {
	e := newEngines(t)
	host := testenv.Hosts(t)[2]
	ct := runApp(t, e, host)
	addr := testenv.Addr(host, ct.Port)
	ctx := ctxFor(t, 2*time.Minute)
	for _, l := range []string{"first", "second", "third"} {
		printLine(t, addr, "stdout", l)
	}
	read := func(opts cluster.LogOptions) []cluster.LogLine {
		t.Helper()
		var got []cluster.LogLine
		if err := e.StreamLogs(ctx, host, ct.ID, opts, func(l cluster.LogLine) error {
			got = append(got, l)
			return nil
		}); err != nil {
			t.Fatalf("StreamLogs(%+v): %v", opts, err)
		}
		return got
	}
	texts := func(ls []cluster.LogLine) string {
		var s []string
		for _, l := range ls {
			s = append(s, l.Line)
		}
		return strings.Join(s, "|")
	}

	// Docker copies a container's output to its log asynchronously.
	var all []cluster.LogLine
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if all = read(cluster.LogOptions{Tail: cluster.LogTailAll}); strings.HasSuffix(texts(all), "third") {
			break
		}
	}
	// The test app also logs each request ("POST /log") before its line.
	if got := texts(all); !strings.HasSuffix(got, "POST /log|first|POST /log|second|POST /log|third") {
		t.Fatalf("all lines = %s; want first, second, third after their requests", got)
	}
	if got := texts(read(cluster.LogOptions{Tail: 2})); got != "POST /log|third" {
		t.Errorf("tail 2 = %s; want POST /log|third", got)
	}
	if got := read(cluster.LogOptions{Tail: 0}); len(got) != 0 {
		t.Errorf("tail 0 = %s; want nothing", texts(got))
	}
	var second cluster.LogLine
	for _, l := range all {
		if l.Line == "second" {
			second = l
		}
	}
	since := read(cluster.LogOptions{Tail: cluster.LogTailAll, Since: second.Time})
	if got := texts(since); got != "second|POST /log|third" {
		t.Errorf("since %s = %s; want second onwards", second.Time.Format(time.RFC3339Nano), got)
	}

	// A followed container that stops ends its stream without an error,
	// after the lines it printed while stopping.
	done := make(chan error, 1)
	lines := make(chan cluster.LogLine, 100)
	go func() {
		done <- e.StreamLogs(ctx, host, ct.ID, cluster.LogOptions{Follow: true, Tail: 0}, func(l cluster.LogLine) error {
			lines <- l
			return nil
		})
	}()
	// The follow may attach after a first print (tail 0 shows nothing
	// from before): print until the stream shows the line.
	for seen := false; !seen; {
		printLine(t, addr, "stdout", "last words")
		select {
		case l := <-lines:
			seen = l.Line == "last words"
		case <-time.After(time.Second):
		}
	}
	if err := e.Stop(ctx, host, ct.ID, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("StreamLogs of a stopped container = %v; want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("StreamLogs did not end within 30s of the container's stop")
	}
	err := e.StreamLogs(ctx, host, ct.ID, cluster.LogOptions{Tail: 1}, func(cluster.LogLine) error { return nil })
	wantCode(t, err, cluster.ENOTFOUND, ct.ID)
}

func TestStreamLogsEmitErrorEndsIt(t *testing.T) {
	e := newEngines(t)
	host := testenv.Hosts(t)[1]
	ct := runApp(t, e, host)
	stop := errors.New("enough")
	n := 0
	err := e.StreamLogs(ctxFor(t, time.Minute), host, ct.ID, cluster.LogOptions{Follow: true, Tail: cluster.LogTailAll}, func(cluster.LogLine) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("StreamLogs = %v after %d lines; want emit's error after one", err, n)
	}
}
