//go:build integration

package pubsub_test

import (
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/pubsub"
)

// TestRedisDownAndBack stops redis-server for real: Changed must not block,
// Run must keep going, and once Redis is back the subscriber must get the
// table that changed meanwhile within about one heartbeat.
func TestRedisDownAndBack(t *testing.T) {
	srv := testenv.StartRedis(t)
	pc, sc := newClient(t, srv.Addr), newClient(t, srv.Addr)
	ch := channel(t)
	src := newSource()
	const republish = 300 * time.Millisecond
	p := startPublisher(t, pubsub.PublisherConfig{Client: pubsub.ClientOf(pc), Channel: ch, Source: src, Republish: republish})
	s, applied := startSubscriber(t, sc, ch)
	waitVersion(t, applied, 1, 2*time.Second)

	srv.Stop()
	v := src.set(map[string][]string{"a.example.com": {"127.0.0.1:8080"}})
	start := time.Now()
	for range 1000 {
		p.Changed()
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Fatalf("1000 Changed() with Redis down took %s", d)
	}
	testenv.Eventually(t, 2*time.Second, "publisher notices Redis is down", func() bool {
		st := p.Status()
		return !st.Connected && st.Errors > 0 && st.LastError != ""
	})
	testenv.Eventually(t, 2*time.Second, "subscriber notices Redis is down", func() bool { return !s.Status().Connected })
	time.Sleep(300 * time.Millisecond)

	srv.Start()
	start = time.Now()
	waitVersion(t, applied, v, 2*republish+time.Second)
	t.Logf("table v%d reached the subscriber %s after redis-server came back", v, time.Since(start))
	testenv.Eventually(t, time.Second, "publisher status shows the recovery", func() bool {
		st := p.Status()
		return st.Connected && st.LastVersion == v
	})
}

// TestPublishesAfterReconnect checks the publish that follows a reconnect on
// its own: no heartbeat and no router asks, yet the change made while Redis
// was down goes out as soon as it is back.
func TestPublishesAfterReconnect(t *testing.T) {
	srv := testenv.StartRedis(t)
	c := newClient(t, srv.Addr)
	ch := channel(t)
	src := newSource()
	p := startPublisher(t, pubsub.PublisherConfig{Client: pubsub.ClientOf(c), Channel: ch, Source: src, Republish: time.Hour})
	testenv.Eventually(t, 2*time.Second, "first publish", func() bool { return p.Status().Published > 0 })

	srv.Stop()
	v := src.set(map[string][]string{"a.example.com": {"127.0.0.1:8080"}})
	p.Changed()
	testenv.Eventually(t, 2*time.Second, "publish fails", func() bool { return p.Status().Errors > 0 })
	time.Sleep(700 * time.Millisecond) // let the backoff grow

	srv.Start()
	d := testenv.Eventually(t, 1500*time.Millisecond, "publish after reconnect", func() bool {
		st := p.Status()
		return st.Connected && st.LastVersion == v
	})
	t.Logf("published v%d %s after redis-server came back", v, d)
}
