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
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/command"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/events"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// sseEvent is one event read from GET /events.
type sseEvent struct {
	ID, Type string
	cluster.Event
}

// eventStream is a client of GET /events that keeps every event it reads.
type eventStream struct {
	mu     sync.Mutex // guards events
	events []sseEvent
}

// followEvents opens GET /events+query on c and reads it until the test
// ends.
func followEvents(t *testing.T, c *command.ServeCommand, query string) *eventStream {
	t.Helper()
	return followEventsAt(t, c.URL(), uiToken, query)
}

// followEventsAt is followEvents of the controller at url, with token.
func followEventsAt(t *testing.T, url, token, query string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/events"+query, nil)
	req.Header.Set("X-Auth", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET /events = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &eventStream{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		var data string
		for sc.Scan() {
			line := sc.Text()
			field, value, _ := strings.Cut(line, ": ")
			switch {
			case line == "":
				if data != "" {
					if err := json.Unmarshal([]byte(data), &ev.Event); err != nil {
						t.Errorf("GET /events sent data that is not an event: %q", data)
					}
					s.mu.Lock()
					s.events = append(s.events, ev)
					s.mu.Unlock()
				}
				ev, data = sseEvent{}, ""
			case field == "id":
				ev.ID = value
			case field == "event":
				ev.Type = value
			case field == "data":
				data = value
			}
		}
	}()
	t.Cleanup(func() { cancel(); resp.Body.Close(); <-done })
	return s
}

// All returns the events read so far.
func (s *eventStream) All() []sseEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sseEvent(nil), s.events...)
}

// Len returns how many events were read so far.
func (s *eventStream) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events)
}

// Wait waits for an event that match accepts and returns it.
func (s *eventStream) Wait(t *testing.T, what string, timeout time.Duration, match func(cluster.Event) bool) cluster.Event {
	t.Helper()
	return s.WaitFrom(t, 0, what, timeout, match)
}

// WaitFrom waits for an event, among those after the first from, that
// match accepts.
func (s *eventStream) WaitFrom(t *testing.T, from int, what string, timeout time.Duration, match func(cluster.Event) bool) cluster.Event {
	t.Helper()
	start := time.Now()
	for {
		for _, e := range s.All()[from:] {
			if match(e.Event) {
				t.Logf("%s after %s", what, time.Since(start).Round(time.Millisecond))
				return e.Event
			}
		}
		if time.Since(start) > timeout {
			var seen []string
			for _, e := range s.All() {
				seen = append(seen, fmt.Sprintf("%s/%s %s r%d %s %s", e.Type, e.Step, e.App, e.Revision, e.Host, e.Instance))
			}
			t.Fatalf("no event %s within %s; seen:\n%s", what, timeout, strings.Join(seen, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func is(typ, step, app string) func(cluster.Event) bool {
	return func(e cluster.Event) bool { return e.Type == typ && e.Step == step && (app == "" || e.App == app) }
}

// TestEventsFromRealActions follows GET /events while real actions happen
// and checks each kind of event they cause: deploy steps, instances routed
// and unrouted, revisions succeeded and failed, an instance dying under
// docker kill (and its replacement routed), a host down under an iptables
// DROP and up again. A client following another app sees none of these
// app events.
func TestEventsFromRealActions(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	fault := testenv.FaultHost(t)
	c, _ := serveUI(t, map[string]string{"LONGSHOREMAN_HOST_GRACE": "2s", "LONGSHOREMAN_RECONCILE": "1s"})
	addHosts(t, c, hosts[:2]...)
	app := testenv.App(t, "events")
	all := followEvents(t, c, "")
	other := followEvents(t, c, "?app=other.example.com")

	mustCall(t, c, "POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":2}`)
	all.Wait(t, "deploy step routed", 10*time.Second, func(e cluster.Event) bool {
		return is("deploy", "routed", app)(e) && e.Revision == 1 && e.Instance != "" && e.Elapsed > 0
	})
	all.Wait(t, "instance routed", 10*time.Second, is("instance", "routed", app))
	all.Wait(t, "revision 1 succeeded", 10*time.Second, func(e cluster.Event) bool { return is("revision", "succeeded", app)(e) && e.Revision == 1 })

	mustCall(t, c, "POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "2")+`"}`)
	all.Wait(t, "instance unrouted", 10*time.Second, is("instance", "unrouted", app))

	status, b := call(t, c, "POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","healthcheck":{"path":"/nope","timeout":"2s"}}`)
	if status == 200 {
		t.Fatalf("a deploy with a failing health check succeeded: %s", b)
	}
	failed := all.Wait(t, "revision 3 failed", 30*time.Second, func(e cluster.Event) bool { return is("revision", "failed", app)(e) && e.Revision == 3 })
	if !strings.Contains(failed.Message, "/nope") {
		t.Fatalf("the failed revision's event does not say why: %q", failed.Message)
	}

	insts, err := c.Store().Instances(app)
	if err != nil || len(insts) == 0 {
		t.Fatalf("instances: %v %v", insts, err)
	}
	routedBefore := len(all.All())
	testenv.Docker(t, "kill", insts[0].ID)
	died := all.Wait(t, "instance died", 20*time.Second, is("instance", "died", app))
	if died.Instance != insts[0].Addr() || died.Revision != insts[0].Revision {
		t.Fatalf("died event %+v, want instance %s of revision %d", died, insts[0].Addr(), insts[0].Revision)
	}
	all.WaitFrom(t, routedBefore, "the replacement routed by a repair", 60*time.Second, func(e cluster.Event) bool {
		return is("instance", "routed", app)(e) && e.Instance != insts[0].Addr()
	})

	mustCall(t, c, "POST", "/hosts", `{"host":"`+fault+`"}`)
	restore := testenv.DropHost(t, fault)
	down := all.Wait(t, "host down", 60*time.Second, func(e cluster.Event) bool { return is("host", "down", "")(e) && e.Host == fault })
	if down.Message == "" {
		t.Fatalf("host down event without the error: %+v", down)
	}
	restore()
	all.Wait(t, "host up", 60*time.Second, func(e cluster.Event) bool { return is("host", "up", "")(e) && e.Host == fault })

	var last uint64
	for _, e := range all.All() {
		var id uint64
		if _, err := fmt.Sscan(e.ID, &id); err != nil || id <= last {
			t.Fatalf("event ids not rising: %q after %d", e.ID, last)
		}
		last = id
		if e.Type != e.Event.Type || e.Time.IsZero() {
			t.Fatalf("SSE event %q carries %+v", e.Type, e.Event)
		}
	}
	other.Wait(t, "host down on the filtered stream", 5*time.Second, is("host", "down", ""))
	for _, e := range other.All() {
		if e.App != "" {
			t.Fatalf("a stream of other.example.com got an event of %s: %+v", e.App, e)
		}
	}
}

// stuckEventsClient opens GET /events with a tiny receive buffer and never
// reads, as a client that hung does. It returns the connection.
func stuckEventsClient(tb testing.TB, c *command.ServeCommand) net.Conn {
	tb.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(c.URL(), "http://"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /events HTTP/1.1\r\nHost: controller\r\nX-Auth: %s\r\n\r\n", uiToken)
	deadline := time.Now().Add(10 * time.Second)
	for c.Events().Subscribers() == 0 {
		if time.Now().After(deadline) {
			tb.Fatal("the stuck client's stream never opened")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return conn
}

// deployTime deploys image to app with count 2 and returns how long it
// took.
func deployTime(tb testing.TB, c *command.ServeCommand, app, image string) time.Duration {
	tb.Helper()
	start := time.Now()
	status, b := call(tb, c, "POST", "/apps/"+app+"/deploy", `{"image":"`+image+`","count":2}`)
	if status != 200 {
		tb.Fatalf("deploy %s: %d %s", image, status, b)
	}
	return time.Since(start)
}

// TestEventsDropsAClientThatNeverReads: a client that opens GET /events
// and never reads is dropped once its buffer fills, its connection ended
// by the server, while events flow as fast as they are published and a
// deploy runs as it does without that client.
func TestEventsDropsAClientThatNeverReads(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	c, log := serveUI(t, nil)
	addHosts(t, c, hosts...)
	app := testenv.App(t, "stuck")
	image1, image2 := testenv.Image(t, "1"), testenv.Image(t, "2")
	deployTime(t, c, app, image1) // pulls and first placement out of the way
	without := deployTime(t, c, app, image2)

	conn := stuckEventsClient(t, c)
	reader := followEvents(t, c, "") // a client that reads keeps everything
	// Events far bigger and more numerous than a deploy's fill the stuck
	// client's socket buffers and then its buffer on the bus. Each waits
	// until the reading client has it, so that only the stuck one falls
	// behind, however loaded the machine.
	stop := make(chan struct{})
	flooded := make(chan int)
	go func() {
		n := 0
		msg := strings.Repeat("x", 1024)
		defer func() { flooded <- n }()
		for c.Events().Dropped() == 0 {
			select {
			case <-stop:
				return
			default:
			}
			seen := reader.Len()
			c.Scheduler().Emit(cluster.Event{Type: cluster.EventTask, Step: "started", App: "flood.example.com", Message: msg})
			n++
			for reader.Len() <= seen {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Microsecond):
				}
			}
		}
	}()
	with := deployTime(t, c, app, image1)
	deadline := time.Now().Add(60 * time.Second)
	for c.Events().Dropped() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	n := <-flooded
	if c.Events().Dropped() != 1 {
		t.Fatalf("after %d events the bus dropped %d clients, want the stuck one", n, c.Events().Dropped())
	}
	// The server ends the stuck client's connection: reading it now gets
	// what was in flight, then the end.
	_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	got, err := io.Copy(io.Discard, conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server did not end the dropped client's connection (read %d bytes in 60s)", got)
	}
	if c.Events().Subscribers() != 1 {
		t.Fatalf("%d streams open, want only the reading client's", c.Events().Subscribers())
	}
	reader.Wait(t, "the reading client still served", 10*time.Second, is("revision", "succeeded", app))
	if !strings.Contains(log.String(), "dropped an event stream client") {
		t.Fatal("the drop is not in the log")
	}
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("deploy of 2 instances: %s without a stuck client, %s with one while %d events flooded it; loadavg %s",
		without.Round(time.Millisecond), with.Round(time.Millisecond), n, strings.TrimSpace(string(load)))
	if with > 3*without+30*time.Second {
		t.Fatalf("a stuck client slowed a deploy from %s to %s", without, with)
	}
}

// BenchmarkDeployWithAStuckEventsClient measures a deploy (count 2, the
// image alternating) with no event stream client, and with one that never
// reads connected (opened again whenever it is dropped).
func BenchmarkDeployWithAStuckEventsClient(b *testing.B) {
	hosts := testenv.Hosts(b)
	for _, stuck := range []bool{false, true} {
		name := "no-client"
		if stuck {
			name = "stuck-client"
		}
		b.Run(name, func(b *testing.B) {
			redisHost, redisPort, _ := strings.Cut(testenv.Redis(b), ":")
			c := MustServe(b, b.TempDir()+"/ls.db", map[string]string{"REDIS_HOST": redisHost, "REDIS_PORT": redisPort,
				"LONGSHOREMAN_TOKEN": uiToken, "LONGSHOREMAN_DRAIN": "200ms",
				"LONGSHOREMAN_CHANNEL": fmt.Sprintf("longshoreman.bench.events.%d", time.Now().UnixNano())})
			addHosts(b, c, hosts...)
			app := testenv.App(b, "bench-events")
			images := []string{testenv.Image(b, "1"), testenv.Image(b, "2")}
			deployTime(b, c, app, images[1])
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if stuck && c.Events().Subscribers() == 0 {
					b.StopTimer()
					stuckEventsClient(b, c)
					b.StartTimer()
				}
				deployTime(b, c, app, images[i%2])
			}
			b.StopTimer()
			load, _ := os.ReadFile("/proc/loadavg")
			b.Logf("loadavg %s", strings.TrimSpace(string(load)))
		})
	}
}

// TestLeaderEvents runs two controllers on one etcd prefix: when the
// leader stops, it reports the leadership lost and the other elected,
// each on its own event stream; GET /events of a follower is the
// leader's.
func TestLeaderEvents(t *testing.T) {
	t.Parallel()
	url := etcdTestURL(t)
	first, _ := serveOnEtcd(t, url, nil)
	waitLeader(t, []string{first.URL()}, 30*time.Second)
	second, _ := serveOnEtcd(t, url, nil)
	waitLeader(t, []string{first.URL(), second.URL()}, 30*time.Second)
	elected := second.Events().Subscribe(nil, 0)
	defer elected.Close()

	// Through the follower, the stream is the leader's.
	viaFollower := followEvents(t, second, "")
	first.Scheduler().Emit(cluster.Event{Type: cluster.EventTask, Step: "started", App: "marker.example.com"})
	viaFollower.Wait(t, "the leader's event through the follower", 10*time.Second, is("task", "started", "marker.example.com"))

	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	// Its streams ended with the shutdown; the bus still kept the event.
	var lost []events.Numbered
	for _, e := range first.Events().Since(0) {
		if e.Type == cluster.EventLeader {
			lost = append(lost, e)
		}
	}
	if len(lost) != 2 || lost[0].Step != "elected" || lost[1].Step != "lost" || lost[1].Message == "" {
		t.Fatalf("the stopped leader's leadership events: %+v, want elected then lost, naming it", lost)
	}
	testenv.Receive(t, elected.C, 30*time.Second, "leader elected event on the other controller's subscription", func(e events.Numbered) bool {
		return e.Type == cluster.EventLeader && e.Step == "elected" && e.Message != "" && e.Message != lost[1].Message
	})
}
