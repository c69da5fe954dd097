//go:build integration

package router_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/pubsub"
	"github.com/longshoreman/longshoreman/router"
)

// runRouter runs router.Run with cfg (Listener, Logger, Keys and
// RouterToken filled in) and returns its URL and a function that stops it.
func runRouter(t *testing.T, cfg router.RunConfig) (string, func()) {
	t.Helper()
	if cfg.RouterToken == "" {
		cfg.RouterToken = testRouterToken
	}
	_, addr, stop := launch(t, cfg)
	return "http://" + addr, func() { stop() }
}

// publishAs runs a real publisher for a controller of clusterID whose table
// sends app to addr.
func publishAs(t *testing.T, c *redis.Client, ch, clusterID string, epoch uint64, addr string) {
	t.Helper()
	publishTable(t, c, ch, cluster.RoutingTable{Version: 1, Epoch: epoch, Controller: "ctl-" + clusterID, Cluster: clusterID,
		Routes: map[string][]string{"a.example.com": {addr}}})
}

// testRouterToken is the router token of the routers these tests run
// (runRouter's default): it shows their full status.
const testRouterToken = "router-token"

// status reads the router's full status, with the router token.
func status(t *testing.T, url string) router.Status {
	t.Helper()
	code, body := getStatus(t, http.DefaultClient, url, "", http.Header{"Authorization": {"Bearer " + testRouterToken}})
	var st router.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != 200 {
		t.Fatalf("GET %s = %d %v", router.StatusPath, code, err)
	}
	return st
}

func backendOf(t *testing.T, url string) string {
	t.Helper()
	return do(t, "GET", url+"/", "a.example.com", "", nil).seen.Backend
}

// TestRouterStaysWithItsCluster: a router with an empty state directory
// takes the first cluster it hears and keeps it; a controller of another
// data file then publishing validly signed, newer tables on the same
// channel is ignored, logged, and shown in the status answer, also after a
// restart; --cluster switches it.
func TestRouterStaysWithItsCluster(t *testing.T) {
	c := testRedis(t)
	ch := "test.router.cluster." + strings.ReplaceAll(t.Name(), "/", ".") + time.Now().Format("150405.000000")
	dir := t.TempDir()
	b1, _ := backend(t, "b1")
	b2, _ := backend(t, "b2")
	now := uint64(time.Now().UnixNano())

	publishAs(t, c, ch, "cluster-one", now, b1)
	var log testenv.Log
	url, stop := runRouter(t, router.RunConfig{Redis: pubsub.ClientOf(c), Channel: ch, StateDir: dir,
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	testenv.Eventually(t, 3*time.Second, "first cluster served", func() bool { return status(t, url).Version == 1 })
	if b := backendOf(t, url); b != "b1" {
		t.Fatalf("routed to %q, want b1", b)
	}
	kept, err := os.ReadFile(filepath.Join(dir, "cluster"))
	if err != nil || strings.TrimSpace(string(kept)) != "cluster-one" {
		t.Fatalf("state dir keeps %q, %v", kept, err)
	}

	publishAs(t, c, ch, "cluster-two", now+uint64(time.Hour), b2)
	testenv.Eventually(t, 3*time.Second, "the other cluster shows in the status", func() bool {
		st := status(t, url)
		return st.ForeignCluster == "cluster-two" && st.Dropped.ForeignCluster >= 2
	})
	if b := backendOf(t, url); b != "b1" {
		t.Fatalf("after another cluster published, routed to %q, want b1", b)
	}
	if st := status(t, url); st.Cluster != "cluster-one" || st.Epoch != now {
		t.Fatalf("status %+v", st)
	}
	if n := strings.Count(log.String(), "another cluster"); n != 1 {
		t.Fatalf("the other cluster is logged %d times (want once, rate-limited):\n%s", n, log.String())
	}

	// A restart keeps the cluster, though both publish.
	stop()
	url, stop = runRouter(t, router.RunConfig{Redis: pubsub.ClientOf(c), Channel: ch, StateDir: dir})
	testenv.Eventually(t, 3*time.Second, "restarted router serves its cluster", func() bool { return status(t, url).Version == 1 })
	time.Sleep(300 * time.Millisecond) // several heartbeats of both
	if st := status(t, url); st.Cluster != "cluster-one" || st.Epoch != now || backendOf(t, url) != "b1" {
		t.Fatalf("after a restart: %+v", st)
	}

	// The operator switches it.
	stop()
	url, _ = runRouter(t, router.RunConfig{Redis: pubsub.ClientOf(c), Channel: ch, StateDir: dir, Cluster: "cluster-two"})
	testenv.Eventually(t, 3*time.Second, "switched router serves the other cluster", func() bool { return backendOf(t, url) == "b2" })
	if kept, _ := os.ReadFile(filepath.Join(dir, "cluster")); strings.TrimSpace(string(kept)) != "cluster-two" {
		t.Fatalf("state dir keeps %q after the switch", kept)
	}
}

func TestRouterRefusesUnwritableStateDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	os.WriteFile(file, nil, 0o600)
	c := testRedis(t)
	err := router.Run(context.Background(), router.RunConfig{Redis: pubsub.ClientOf(c), Keys: [][]byte{testKey}, StateDir: file, Addr: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "--state-dir") {
		t.Fatalf("Run with a file as state dir: %v", err)
	}
}

// TestKeptTableServedWhileAllIsAway: a router keeps the last table it
// applied in its state directory (0600); restarted while Redis does not
// answer and the controller is gone, it serves that table over HTTP and,
// from its certificate cache, over HTTPS; a table of another cluster kept
// there is not served.
func TestKeptTableServedWhileAllIsAway(t *testing.T) {
	c := testRedis(t)
	ca, fc := certController(t, 2, "a.example.com")
	ba, _ := backend(t, "a")
	ch := "test.router.kept." + time.Now().Format("150405.000000")
	tp := publishTable(t, c, ch, cluster.RoutingTable{Version: 1, Epoch: 7, Controller: "c", Cluster: "k", Certs: 2,
		Routes: map[string][]string{"a.example.com": {ba}}})
	dir := t.TempDir()
	hr := runHTTPSRouter(t, router.RunConfig{Redis: pubsub.ClientOf(c), Channel: ch, Controller: fc.URL, RouterToken: "router-token", StateDir: dir})
	tp.change(func(t *cluster.RoutingTable) { // a new map: the publisher reads the old one
		t.Routes = map[string][]string{"a.example.com": {ba}, "b.example.com": {ba}}
	})
	kept := filepath.Join(dir, "table.json")
	testenv.Eventually(t, 10*time.Second, "version 2 kept", func() bool {
		var k cluster.RoutingTable
		b, err := os.ReadFile(kept)
		return err == nil && json.Unmarshal(b, &k) == nil && k.Version == 2
	})
	if fi, err := os.Stat(kept); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kept table: %v %v, want mode 0600", fi, err)
	}
	testenv.Eventually(t, 10*time.Second, "certificates cached", func() bool {
		_, err := os.Stat(filepath.Join(dir, "certs.json"))
		return err == nil
	})
	hr.stop()
	fc.Close()

	// Redis does not answer (nothing listens there), the controller is gone.
	away := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { away.Close() })
	hr = runHTTPSRouter(t, router.RunConfig{Redis: pubsub.ClientOf(away), Channel: ch, Controller: fc.URL, RouterToken: "router-token", StateDir: dir})
	for _, host := range []string{"a.example.com", "b.example.com"} {
		if s := do(t, "GET", hr.url+"/", host, "", nil).seen.Backend; s != "a" {
			t.Fatalf("GET http://%s/ reached %q from the kept table, want backend a", host, s)
		}
	}
	if resp, s := get(t, hr.client(ca, true), "GET", "https://a.example.com/", ""); s.Backend != "a" {
		t.Fatalf("HTTPS from the kept table and certificate cache: %s, backend %q", resp.Status, s.Backend)
	}
	hr.stop()

	// A table of another cluster is not served by a router of cluster k.
	other := cluster.RoutingTable{Version: 9, Cluster: "other", Routes: map[string][]string{"a.example.com": {ba}}}
	b, _ := json.Marshal(other)
	if err := os.WriteFile(kept, b, 0o600); err != nil {
		t.Fatal(err)
	}
	url, _ := runRouter(t, router.RunConfig{Redis: pubsub.ClientOf(away), Channel: ch, StateDir: dir})
	if r := do(t, "GET", url+"/", "a.example.com", "", nil); r.seen.Backend != "" {
		t.Fatalf("a kept table of another cluster was served: reached %q", r.seen.Backend)
	}
}

// TestReplayAfterRestartIsDropped: a router restarted with its state
// directory takes the table it kept as the floor, so an older table,
// validly signed (captured off the channel and published again by
// whoever can reach Redis), is dropped and counted rather than applied
// and kept.
func TestReplayAfterRestartIsDropped(t *testing.T) {
	t.Parallel()
	c := testRedis(t)
	ch := "test.router.replay." + time.Now().Format("150405.000000")
	old, _ := backend(t, "old")
	current, _ := backend(t, "current")

	// The attacker listens on the channel and keeps what it hears.
	sub := c.Subscribe(context.Background(), ch)
	t.Cleanup(func() { sub.Close() })
	if _, err := sub.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	heard := sub.Channel()

	tp := publishTable(t, c, ch, cluster.RoutingTable{Version: 1, Epoch: uint64(time.Now().UnixNano()), Controller: "c", Cluster: "k",
		Routes: map[string][]string{"a.example.com": {old}}})
	var captured string // a signed message of version 1
	for captured == "" {
		select {
		case m := <-heard:
			var t1 cluster.RoutingTable
			if json.Unmarshal([]byte(m.Payload), &t1) == nil && t1.Version == 1 {
				captured = m.Payload
			}
		case <-time.After(10 * time.Second):
			t.Fatal("heard no table of version 1 on the channel")
		}
	}

	dir := t.TempDir()
	url, stop := runRouter(t, router.RunConfig{Redis: pubsub.ClientOf(c), Channel: ch, StateDir: dir})
	tp.change(func(t *cluster.RoutingTable) { // version 2
		t.Routes = map[string][]string{"a.example.com": {current}}
	})
	kept := filepath.Join(dir, "table.json")
	keptVersion := func() uint64 {
		var k cluster.RoutingTable
		b, err := os.ReadFile(kept)
		if err != nil || json.Unmarshal(b, &k) != nil {
			return 0
		}
		return k.Version
	}
	testenv.Eventually(t, 10*time.Second, "version 2 applied and kept", func() bool { return keptVersion() == 2 && backendOf(t, url) == "current" })
	stop()
	tp.stop() // the controller is gone

	url, _ = runRouter(t, router.RunConfig{Redis: pubsub.ClientOf(c), Channel: ch, StateDir: dir})
	testenv.Eventually(t, 10*time.Second, "the restarted router subscribed", func() bool { return status(t, url).Connected })
	if b := backendOf(t, url); b != "current" {
		t.Fatalf("after the restart the router sends a.example.com to %q, want current (the kept table)", b)
	}
	if err := c.Publish(context.Background(), ch, captured).Err(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "the replayed table dropped and counted", func() bool { return status(t, url).Dropped.Older == 1 })
	if st := status(t, url); st.Version != 2 || st.Received != 1 {
		t.Fatalf("after the replay: status %+v, want version 2 and the one message received", st)
	}
	if b := backendOf(t, url); b != "current" {
		t.Fatalf("after the replay the router sends a.example.com to %q, want current", b)
	}
	if v := keptVersion(); v != 2 {
		t.Fatalf("after the replay the state directory keeps version %d, want 2", v)
	}
}
