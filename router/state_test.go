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
	src := &staticSource{t: cluster.RoutingTable{Version: 1, Epoch: epoch, Controller: "ctl-" + clusterID, Cluster: clusterID,
		Routes: map[string][]string{"a.example.com": {addr}}}}
	p := pubsub.NewPublisher(pubsub.PublisherConfig{Client: pubsub.ClientOf(c), Channel: ch, Source: src, Republish: 100 * time.Millisecond, Logger: testLogger(), Key: testKey})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// testRouterToken is the router token of the routers these tests run
// (runRouter's default): it shows their full status.
const testRouterToken = "router-token"

// status reads the router's full status, with the router token.
func status(t *testing.T, url string) router.Status {
	t.Helper()
	req, _ := http.NewRequest("GET", url+router.StatusPath, nil)
	req.Header.Set("Authorization", "Bearer "+testRouterToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st router.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d %v", router.StatusPath, resp.StatusCode, err)
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
