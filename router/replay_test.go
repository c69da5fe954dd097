//go:build integration

package router_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/pubsub"
	"github.com/longshoreman/longshoreman/router"
)

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

	src := &staticSource{t: cluster.RoutingTable{Version: 1, Epoch: uint64(time.Now().UnixNano()), Controller: "c", Cluster: "k",
		Routes: map[string][]string{"a.example.com": {old}}}}
	pub := pubsub.NewPublisher(pubsub.PublisherConfig{Client: pubsub.ClientOf(c), Channel: ch, Source: src, Republish: 100 * time.Millisecond, Logger: testLogger(), Key: testKey})
	pctx, stopPub := context.WithCancel(context.Background())
	pubDone := make(chan struct{})
	go func() { pub.Run(pctx); close(pubDone) }()
	t.Cleanup(func() { stopPub(); <-pubDone })
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
	src.mu.Lock()
	src.t.Routes = map[string][]string{"a.example.com": {current}}
	src.t.Version = 2
	src.mu.Unlock()
	pub.Changed()
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
	stopPub() // the controller is gone
	<-pubDone

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
