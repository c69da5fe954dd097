//go:build integration

package pubsub_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/pubsub"
)

func TestChangedReachesSubscriber(t *testing.T) {
	c, ch := testChannel(t)
	src := newSource()
	p := startPublisher(t, pubsub.PublisherConfig{Client: pubsub.ClientOf(c), Channel: ch, Source: src, Republish: time.Minute})
	_, applied := startSubscriber(t, c, ch)
	waitVersion(t, applied, 1, 2*time.Second)

	routes := map[string][]string{"shop.example.com": {"10.0.0.5:32768", "10.0.0.6:32771"}}
	v := src.set(routes)
	p.Changed()
	rt := waitVersion(t, applied, v, time.Second)
	if !reflect.DeepEqual(rt.Routes, routes) || rt.Controller != "ctl-test" {
		t.Fatalf("got %+v", rt)
	}
	// The subscriber may see the message before Publish returns.
	testenv.Eventually(t, time.Second, "status shows the publish", func() bool {
		st := p.Status()
		return st.Connected && st.LastVersion == v && st.Published >= 2
	})
	if p.Last().Version != v {
		t.Fatalf("Last().Version = %d, want %d", p.Last().Version, v)
	}
}

func TestSyncRequestAnsweredAtOnce(t *testing.T) {
	c, ch := testChannel(t)
	src := newSource()
	src.set(map[string][]string{"a.example.com": {"127.0.0.1:1"}})
	p := startPublisher(t, pubsub.PublisherConfig{Client: pubsub.ClientOf(c), Channel: ch, Source: src, Republish: time.Hour})
	testenv.Eventually(t, 2*time.Second, "first publish", func() bool { return p.Status().Published > 0 })
	time.Sleep(100 * time.Millisecond) // the startup publishes are long gone

	start := time.Now()
	_, applied := startSubscriber(t, c, ch)
	waitVersion(t, applied, 2, time.Second)
	t.Logf("a late subscriber got the table %s after starting", time.Since(start))
	if p.Status().SyncRequests == 0 {
		t.Fatal("the publisher saw no sync request")
	}
}

func TestHeartbeatRepeatsVersion(t *testing.T) {
	c, ch := testChannel(t)
	raw := rawSubscribe(t, c, ch)
	startPublisher(t, pubsub.PublisherConfig{Client: pubsub.ClientOf(c), Channel: ch, Source: newSource(), Republish: 100 * time.Millisecond})
	deadline := time.After(2 * time.Second)
	for n := 0; n < 4; {
		select {
		case rt := <-raw:
			if rt.Version != 1 {
				t.Fatalf("heartbeat carries version %d, want 1", rt.Version)
			}
			n++
		case <-deadline:
			t.Fatal("fewer than 4 heartbeats in 2s with Republish=100ms")
		}
	}
}

func TestChangedCoalescesBursts(t *testing.T) {
	c, ch := testChannel(t)
	raw := rawSubscribe(t, c, ch)
	src := newSource()
	p := startPublisher(t, pubsub.PublisherConfig{Client: pubsub.ClientOf(c), Channel: ch, Source: src, Republish: time.Hour, Coalesce: 20 * time.Millisecond})
	testenv.Eventually(t, 2*time.Second, "startup publishes", func() bool { return p.Status().Published >= 2 })
	time.Sleep(50 * time.Millisecond)
	before := p.Status().Published
	for len(raw) > 0 {
		<-raw
	}

	var last uint64
	for i := range 100 {
		last = src.set(map[string][]string{"a.example.com": {"127.0.0.1:" + string(rune('0'+i%10))}})
		p.Changed()
	}
	time.Sleep(200 * time.Millisecond)
	n := p.Status().Published - before
	if n < 1 || n > 3 {
		t.Fatalf("100 rapid changes made %d publishes, want 1 to 3", n)
	}
	var got uint64
	for len(raw) > 0 {
		got = (<-raw).Version
	}
	if got != last {
		t.Fatalf("last published version %d, want %d", got, last)
	}
	t.Logf("100 changes → %d publishes", n)
}
