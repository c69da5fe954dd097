//go:build integration

package integration

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/pubsub"
)

// tableLog records every routing table published on the channel, in order.
type tableLog struct {
	mu     sync.Mutex // guards tables
	tables []cluster.RoutingTable
}

func watchTables(t *testing.T, addr string) *tableLog {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	ps := c.Subscribe(context.Background(), testChannel(t))
	if _, err := ps.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	l := &tableLog{}
	keys, _ := pubsub.ParseKeys(testRoutesKey)
	go func() {
		for msg := range ps.Channel() {
			b, err := pubsub.Verify([]byte(msg.Payload), keys)
			if err != nil {
				continue
			}
			if table, err := pubsub.Decode(b); err == nil {
				l.mu.Lock()
				l.tables = append(l.tables, table)
				l.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { ps.Close() })
	return l
}

func (l *tableLog) all() []cluster.RoutingTable {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]cluster.RoutingTable(nil), l.tables...)
}

// testLease is the leadership lease of the controllers the tests start on
// etcd: the default's, since a shorter one is lost on a busy machine when
// a keepalive's answer is a second late, and a test about something else
// then fails on a leadership change.
const testLease = 5 * time.Second

// controllersOnEtcd starts n controller processes on one new etcd prefix.
func controllersOnEtcd(t testing.TB, n int, env ...string) ([]*Controller, []string, string) {
	url := etcdTestURL(t)
	var ctrls []*Controller
	var urls []string
	for range n {
		c := StartController(t, url, append([]string{"LONGSHOREMAN_LEASE=" + testLease.String()}, env...)...)
		ctrls, urls = append(ctrls, c), append(urls, c.URL)
	}
	return ctrls, urls, url
}

// leaderWithApp starts two controller processes on one etcd prefix, adds
// the test hosts through the one that leads and deploys one instance of a
// new app (prefix) through it. It returns the leader, the other controller
// and the app.
func leaderWithApp(t *testing.T, prefix string) (lead, other *Controller, app string) {
	t.Helper()
	ctrls, urls, _ := controllersOnEtcd(t, 2)
	leader := waitLeader(t, urls, 30*time.Second)
	lead, other = ctrls[leader], ctrls[1-leader]
	lead.AddHosts(t, testenv.Hosts(t)...)
	app = testenv.App(t, prefix)
	lead.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":1}`)
	return lead, other, app
}

// killLeader kills the leader with SIGKILL and sends a write to the other
// controllers, in turn, until one accepts it; it returns how long that took
// and which controller leads then.
func killLeader(t testing.TB, ctrls []*Controller, urls []string, leader int, app string, round int) (time.Duration, int) {
	t.Helper()
	start := time.Now()
	ctrls[leader].Kill()
	deadline := start.Add(60 * time.Second)
	for i := 0; ; i++ {
		c := ctrls[(leader+1+i%(len(ctrls)-1))%len(ctrls)]
		if status, _ := c.Call("POST", "/"+app+"/envs", fmt.Sprintf(`{"env":"ROUND=%d"}`, round)); status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no controller accepted a write within 60s of the leader's kill -9:\n%s", ctrls[(leader+1)%len(ctrls)].Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	var rest []string
	for i, u := range urls {
		if i != leader {
			rest = append(rest, u)
		}
	}
	next := waitLeader(t, rest, 30*time.Second)
	for i, u := range urls {
		if u == rest[next] {
			next = i
			break
		}
	}
	return took, next
}

// deployingRevision waits until c reads a revision of app deploying, and
// returns its number.
func deployingRevision(t *testing.T, c *Controller, app string) float64 {
	t.Helper()
	var cut float64
	testenv.Eventually(t, 30*time.Second, "a revision is deploying", func() bool {
		_, hist := c.Call("GET", "/"+app+"/history", "")
		list, _ := hist["history"].([]any)
		for _, h := range list {
			if h := h.(map[string]any); h["status"] == cluster.StatusDeploying {
				cut = h["revision"].(float64)
				return true
			}
		}
		return false
	})
	return cut
}

// TestLeaderFailover: three controllers on etcd, three Docker hosts, a
// router with a client looping through it. The leader is killed with
// SIGKILL while idle and again mid-deploy: another leads, accepts writes
// and settles the deploy, and no request through the router fails. Then
// the leader is stopped with SIGSTOP past its lease in the middle of a
// deploy: another leads, settles that deploy and deploys; resumed, the old
// leader writes nothing (history and instances stay as the new leader left
// them), publishes no table after the new leader's first, stops no
// container, says it lost the leadership and follows.
func TestLeaderFailover(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	rds := testenv.StartRedis(t)
	rhost, rport, _ := net.SplitHostPort(rds.Addr)
	ctrls, urls, _ := controllersOnEtcd(t, 3, "REDIS_HOST="+rhost, "REDIS_PORT="+rport, "LONGSHOREMAN_REPUBLISH=1s")
	leader := waitLeader(t, urls, 30*time.Second)
	tables := watchTables(t, rds.Addr)

	f := ctrls[(leader+1)%3]
	f.AddHosts(t, hosts...)
	app := testenv.App(t, "failover")
	f.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":2}`)
	controller := f.MustCall(t, "GET", "/routes", "")["controller"].(string)

	r := StartRouter(t, rds.Addr)
	r.WaitRoutes(t, app, 60*time.Second)
	load := StartLoad(r, app, 1000000, 10*time.Minute)

	// kill -9 while idle.
	took, leader := killLeader(t, ctrls, urls, leader, app, 1)
	t.Logf("kill -9 of the idle leader: a write accepted after %s", took)
	for _, c := range ctrls {
		if c.cmd == nil {
			c.Start(t)
		}
	}
	checkRecovered(t, ctrls[leader], app, controller, hosts, "kill -9 of the idle leader", nil)

	// kill -9 mid-deploy.
	deployed := make(chan struct{})
	go func() {
		defer close(deployed)
		ctrls[leader].Call("POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "2")+`"}`)
	}()
	// Kill once the store shows the deploy under way, as a follower reads it.
	cut := deployingRevision(t, ctrls[(leader+1)%3], app)
	watch := watchSettle(ctrls[(leader+1)%3], app, cut, time.Now())
	took, leader = killLeader(t, ctrls, urls, leader, app, 2)
	<-deployed
	t.Logf("kill -9 of the leader mid-deploy: a write accepted after %s", took)
	// The new leader settles the deploy within twice the lease of the
	// kill, whatever it is asked meanwhile, and the app stays routed.
	testenv.Eventually(t, 30*time.Second, "the deploy cut short to be settled", func() bool {
		settled, _ := watch.Settled()
		return settled > 0
	})
	unrouted := watch.Stop()
	settled, status := watch.Settled()
	t.Logf("the deploy cut short was settled %s after the kill (%s); the app went without a routed instance for %s at most", settled, status, unrouted)
	if settled > 2*testLease || unrouted > 0 {
		t.Fatalf("after the kill -9 mid-deploy: settled after %s (want at most %s, twice the lease), longest stretch without a routed instance %s\n%s", settled, 2*testLease, unrouted, ctrls[leader].Log())
	}
	for _, c := range ctrls {
		if c.cmd == nil {
			c.Start(t)
		}
	}
	checkRecovered(t, ctrls[leader], app, controller, hosts, "kill -9 of the leader mid-deploy", nil)
	for _, h := range ctrls[leader].MustCall(t, "GET", "/"+app+"/history", "")["history"].([]any) {
		if h := h.(map[string]any); h["revision"] == cut {
			t.Logf("the deploy cut short by the kill (revision %v) ended %v: %v", cut, h["status"], h["reason"])
		}
	}

	// SIGSTOP past the lease in the middle of a deploy, then SIGCONT.
	old := ctrls[leader]
	before := tables.all()
	oldEpoch := before[len(before)-1].Epoch
	go old.Call("POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "2")+`"}`)
	cut = deployingRevision(t, ctrls[(leader+1)%3], app)
	if err := old.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var rest []string
	var others []*Controller
	for i, u := range urls {
		if i != leader {
			rest, others = append(rest, u), append(others, ctrls[i])
		}
	}
	next := others[waitLeader(t, rest, 30*time.Second)]
	// The new leader settles the paused leader's deploy; until then the
	// app is busy.
	testenv.Eventually(t, 60*time.Second, "the new leader deploys", func() bool {
		status, _ := next.Call("POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`"}`)
		return status == 200
	})
	want := anyStrings(next.MustCall(t, "GET", "/"+app+"/instances", "")["instances"])
	wantHistory := fmt.Sprint(next.MustCall(t, "GET", "/"+app+"/history", "")["history"])
	if err := old.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "the resumed leader says it lost the leadership", func() bool {
		return strings.Contains(old.Log(), "lost the leadership")
	})
	time.Sleep(3 * time.Second) // three heartbeats of the new leader

	if h := health(old.URL); h == nil || h["role"] != "follower" || h["leader_url"] != next.URL {
		t.Fatalf("the resumed leader's /healthz: %v", h)
	}
	all := tables.all()
	first := -1
	for i, table := range all {
		if table.Epoch > oldEpoch && first < 0 {
			first = i
		}
		if first >= 0 && table.Epoch <= oldEpoch {
			t.Fatalf("table %d (epoch %d, version %d) of the old leader was published after the new leader's first (epoch %d)", i, table.Epoch, table.Version, all[first].Epoch)
		}
	}
	if first < 0 {
		t.Fatalf("no table of the new leader among %d", len(all))
	}
	checkRecovered(t, next, app, controller, hosts, "SIGSTOP and SIGCONT of the leader", nil)
	if got := fmt.Sprint(next.MustCall(t, "GET", "/"+app+"/history", "")["history"]); got != wantHistory {
		t.Fatalf("the resumed leader changed the history:\n%s\nwas\n%s", got, wantHistory)
	}
	if got := anyStrings(next.MustCall(t, "GET", "/"+app+"/instances", "")["instances"]); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("the resumed leader changed the instances: %v, were %v", got, want)
	}
	versions := map[uint64]bool{}
	for _, table := range all {
		versions[table.Version] = true
	}
	var vs []uint64
	for v := range versions {
		vs = append(vs, v)
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
	total, failures, answers, lastErr := load.Stop()
	t.Logf("%d requests through the router, %d failed, answers %v; %d tables seen, versions %v", total, failures, answers, len(all), vs)
	if failures != 0 {
		t.Fatalf("%d of %d requests through the router failed; last: %s\nrouter log:\n%s", failures, total, lastErr, r.Log())
	}
}

// BenchmarkFailover measures, over b.N kills of the leader with SIGKILL,
// the time from the kill to the first write another controller accepts,
// with the default lease of 5s. Run it with -benchtime 10x.
func BenchmarkFailover(b *testing.B) {
	ctrls, urls, _ := controllersOnEtcd(b, 3, "LONGSHOREMAN_LEASE=5s")
	leader := waitLeader(b, urls, 30*time.Second)
	app := "failover.example.com"
	ctrls[leader].MustCall(b, "POST", "/apps", `{"app":"`+app+`"}`)
	var times []time.Duration
	for i := 0; i < b.N; i++ {
		took, next := killLeader(b, ctrls, urls, leader, app, i)
		times = append(times, took)
		ctrls[leader].Start(b)
		leader = next
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	p50, worst := times[len(times)/2], times[len(times)-1]
	b.ReportMetric(p50.Seconds(), "p50-s")
	b.ReportMetric(worst.Seconds(), "max-s")
	b.Logf("failover over %d kills, lease 5s: p50 %s, max %s (goal: at most 10s, 2x the lease)", len(times), p50.Round(time.Millisecond), worst.Round(time.Millisecond))
}

// settleWatch follows, from a controller that stays up, a deploy cut
// short: when its revision stops deploying, and how long the app goes
// without a routed instance meanwhile. Reads are served by any controller.
type settleWatch struct {
	stop chan struct{}
	done chan struct{}

	mu         sync.Mutex    // guards the fields below
	settled    time.Duration // from the start until the revision left deploying; 0: not yet
	status     string        // what it ended as
	unrouted   time.Duration // the longest stretch seen with no routed instance of the app
	lastRouted int           // routed instances at the last look
}

// watchSettle polls c every 25ms from start until Stop: revision cut of
// app, and the app's routed instances.
func watchSettle(c *Controller, app string, cut float64, start time.Time) *settleWatch {
	w := &settleWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		var since time.Time // the app has had no routed instance since then
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(25 * time.Millisecond):
			}
			if settled, _ := w.Settled(); settled == 0 {
				if status, hist := c.Call("GET", "/"+app+"/history", ""); status == 200 {
					list, _ := hist["history"].([]any)
					for _, h := range list {
						if h := h.(map[string]any); h["revision"] == cut && h["status"] != cluster.StatusDeploying {
							w.mu.Lock()
							w.settled, w.status = time.Since(start), h["status"].(string)
							w.mu.Unlock()
						}
					}
				}
			}
			status, inst := c.Call("GET", "/"+app+"/instances", "")
			if status != 200 {
				continue
			}
			w.mu.Lock()
			w.lastRouted = len(anyStrings(inst["instances"]))
			switch {
			case w.lastRouted > 0:
				since = time.Time{}
			case since.IsZero():
				since = time.Now()
			default:
				w.unrouted = max(w.unrouted, time.Since(since))
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// Settled returns how long after the start the revision was seen to stop
// deploying (0: not yet), and its status then.
func (w *settleWatch) Settled() (time.Duration, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.settled, w.status
}

// Stop ends the watch and returns the longest stretch seen without a
// routed instance.
func (w *settleWatch) Stop() (unrouted time.Duration) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.unrouted
}
