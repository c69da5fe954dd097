package scheduler_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// logStream runs FollowLogs on app and hands its lines to the test.
type logStream struct {
	lines  chan cluster.LogLine
	done   chan error    // FollowLogs's result
	ended  chan struct{} // closed when FollowLogs returned
	cancel context.CancelFunc
}

func followLogs(t *testing.T, c *FakeCluster, app string, opts cluster.LogOptions) *logStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &logStream{lines: make(chan cluster.LogLine, 1000), done: make(chan error, 1), ended: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(s.ended)
		s.done <- c.FollowLogs(ctx, app, opts, func(l cluster.LogLine) error {
			s.lines <- l
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-s.ended
	})
	return s
}

// next returns the first line for which match holds, failing on an error
// line or after a generous deadline.
func (s *logStream) next(t *testing.T, what string, match func(cluster.LogLine) bool) cluster.LogLine {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l := <-s.lines:
			if match(l) {
				return l
			}
			if l.Error != "" {
				t.Fatalf("error line %+v while waiting for %s", l, what)
			}
		case err := <-s.done:
			t.Fatalf("FollowLogs ended (%v) while waiting for %s", err, what)
		case <-deadline:
			t.Fatalf("no %s within 30s", what)
		}
	}
}

func lineIs(text string) func(cluster.LogLine) bool {
	return func(l cluster.LogLine) bool { return l.Line == text }
}

func instances(t *testing.T, c *FakeCluster, app string) []cluster.Instance {
	t.Helper()
	insts, err := c.DB.Instances(app)
	if err != nil {
		t.Fatal(err)
	}
	return insts
}

// An instance that starts while the logs are followed joins the stream
// with its first line; one that stops leaves it without an error line; a
// host that fails gives one error line.
func TestFakeFollowLogsJoinLeave(t *testing.T) {
	t.Parallel()
	c, app := mustOpenFakeApp(t, "follow.example.com", 1)
	old := instances(t, c, app)[0]
	if err := c.Engines.Print(old.ID, "stderr", "before the stream"); err != nil {
		t.Fatal(err)
	}

	// Tail 0: only what is printed from now on, for the instances there.
	s := followLogs(t, c, app, cluster.LogOptions{Tail: 0})
	// The fake reads a container's lines in the call it counts: once
	// counted, what is printed next is new to the follower.
	testenv.Eventually(t, 30*time.Second, "the instance followed", func() bool { return c.Engines.Calls()["StreamLogs"] >= 1 })
	if err := c.Engines.Print(old.ID, "stderr", "while followed"); err != nil {
		t.Fatal(err)
	}
	got := s.next(t, "the line printed while followed", func(l cluster.LogLine) bool {
		if l.Line != "while followed" {
			t.Errorf("line %+v; want nothing before the line printed while followed", l)
		}
		return true
	})
	if got.Instance != old.Addr() || got.Host != old.Host || got.Stream != "stderr" || got.Time.IsZero() {
		t.Errorf("first line = %+v; want stderr of %s with a time", got, old.Addr())
	}

	if _, err := c.Scale(context.Background(), app, 2, nil); err != nil {
		t.Fatal(err)
	}
	var added cluster.Instance
	for _, inst := range instances(t, c, app) {
		if inst.ID != old.ID {
			added = inst
		}
	}
	// A joining instance sends all its lines, the first one included,
	// whatever the stream's tail.
	s.next(t, "the new instance's first line", func(l cluster.LogLine) bool {
		return l.Instance == added.Addr() && strings.HasPrefix(l.Line, "fake container ")
	})
	if err := c.Engines.Print(added.ID, "stdout", "from the new one"); err != nil {
		t.Fatal(err)
	}
	if l := s.next(t, "the new instance's line", lineIs("from the new one")); l.Instance != added.Addr() {
		t.Errorf("line from the new instance attributed to %s; want %s", l.Instance, added.Addr())
	}

	if _, err := c.Scale(context.Background(), app, 1, nil); err != nil {
		t.Fatal(err)
	}
	left := instances(t, c, app)[0]
	gone := old
	if left.ID == old.ID {
		gone = added
	}
	// The stopped one leaves quietly: the lines up to the next one printed
	// by the one left hold no error line and nothing from it.
	time.Sleep(2 * time.Second) // several polls of the records
	if err := c.Engines.Print(left.ID, "stdout", "after the scale-down"); err != nil {
		t.Fatal(err)
	}
	s.next(t, "the line after the scale-down", func(l cluster.LogLine) bool {
		if l.Instance == gone.Addr() {
			t.Errorf("line %+v from the instance that left", l)
		}
		return l.Line == "after the scale-down"
	})

	c.Engines.SetDown(left.Host, true)
	c.Engines.Kill(left.ID) // ends the open stream, as a host going away does
	l := s.next(t, "an error line for the failed host", func(l cluster.LogLine) bool { return l.Error != "" })
	if l.Instance != left.Addr() || !strings.Contains(l.Error, "logs unavailable") || !strings.Contains(l.Error, left.Host) {
		t.Errorf("error line = %+v; want one naming %s and its host", l, left.Addr())
	}
	// Only one per failure: the next attempts stay quiet.
	select {
	case l := <-s.lines:
		t.Errorf("line %+v after the error line; want none while the host is down", l)
	case <-time.After(3 * time.Second):
	}

	s.cancel()
	select {
	case err := <-s.done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("FollowLogs after cancel = %v; want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("FollowLogs did not return within 30s of its context's end")
	}
}

// An emit that fails ends the stream with its error.
func TestFakeFollowLogsEmitError(t *testing.T) {
	c, app := mustOpenFakeApp(t, "emitfail.example.com", 2)
	stop := errors.New("client gone")
	calls := 0
	err := c.FollowLogs(context.Background(), app, cluster.LogOptions{Tail: cluster.LogTailAll}, func(cluster.LogLine) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("FollowLogs = %v after %d calls; want emit's error after one", err, calls)
	}
}

// Without follow, tail and since pick the lines, stdout and stderr merged
// in time order, each prefixed with its instance.
func TestFakeLogsTailSince(t *testing.T) {
	c, app := mustOpenFakeApp(t, "tail.example.com", 1)
	inst := instances(t, c, app)[0]
	for _, l := range []string{"one", "two", "three"} {
		if err := c.Engines.Print(inst.ID, "stdout", l); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	mid := time.Now()
	if err := c.Engines.Print(inst.ID, "stderr", "four"); err != nil {
		t.Fatal(err)
	}
	p := inst.Addr() + " "
	for _, tc := range []struct {
		opts cluster.LogOptions
		want []string
	}{
		{cluster.LogOptions{Tail: 2}, []string{p + "three", p + "four"}},
		{cluster.LogOptions{Tail: 0}, []string{}},
		{cluster.LogOptions{Tail: cluster.LogTailAll, Since: mid}, []string{p + "four"}},
		{cluster.LogOptions{Tail: 10, Follow: true}, []string{p + "fake container " + inst.ID[:12] + " of " + goodImage, p + "one", p + "two", p + "three", p + "four"}},
	} {
		got, err := c.Logs(context.Background(), app, tc.opts)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Logs(%+v) = %q, %v; want %q", tc.opts, got, err, tc.want)
		}
	}
}
