package events_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/events"
)

func deploy(app string, i int) cluster.Event {
	return cluster.Event{Type: cluster.EventDeploy, Step: "started", App: app, Revision: i}
}

// Every subscriber gets every event it accepts, in order, numbered.
func TestFanOut(t *testing.T) {
	b := events.New(16, 0)
	all := b.Subscribe(nil, 0)
	shop := b.Subscribe(func(e cluster.Event) bool { return e.App == "shop" }, 0)
	for i := 1; i <= 4; i++ {
		app := "shop"
		if i%2 == 0 {
			app = "blog"
		}
		b.Publish(deploy(app, i))
	}
	for i := 1; i <= 4; i++ {
		e := <-all.C
		if e.ID != uint64(i) || e.Revision != i || e.Time.IsZero() {
			t.Fatalf("event %d: got %+v", i, e)
		}
	}
	for _, want := range []int{1, 3} {
		if e := <-shop.C; e.Revision != want || e.App != "shop" {
			t.Fatalf("filtered subscriber: want revision %d of shop, got %+v", want, e)
		}
	}
	all.Close()
	all.Close() // twice is fine
	if _, ok := <-all.C; ok {
		t.Fatal("a closed subscription's channel is still open")
	}
	if all.Dropped() {
		t.Fatal("a subscription closed by its owner reports dropped")
	}
	if n := b.Subscribers(); n != 1 {
		t.Fatalf("subscribers after one Close: %d, want 1", n)
	}
}

// A subscriber that never reads is dropped once its buffer is full, while
// Publish never blocks and the others keep receiving everything.
func TestSlowSubscriberIsDropped(t *testing.T) {
	const buffer = 8
	b := events.New(buffer, 0)
	stuck := b.Subscribe(nil, 0)
	reader := b.Subscribe(nil, 0)
	// The reader acknowledges each event, so it is never more than one
	// behind, while the stuck one falls behind by all of them.
	var got []uint64
	ack := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for e := range reader.C {
			got = append(got, e.ID)
			ack <- struct{}{}
		}
	})
	const sent = 200
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < sent; i++ {
			b.Publish(deploy("shop", i))
			<-ack
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Publish blocked on a subscriber that never reads")
	}
	select {
	case <-stuck.Done():
	default:
		t.Fatal("the dropped subscription's Done is still open")
	}
	n := 0
	for range stuck.C {
		n++
	}
	if !stuck.Dropped() {
		t.Fatal("the subscriber that never read was not dropped")
	}
	if n != buffer {
		t.Fatalf("the dropped subscriber's channel held %d events, want its buffer, %d", n, buffer)
	}
	if b.Dropped() != 1 {
		t.Fatalf("bus counts %d dropped, want 1", b.Dropped())
	}
	reader.Close()
	wg.Wait()
	if reader.Dropped() {
		t.Fatalf("the reading subscriber was dropped too (it got %d events)", len(got))
	}
	if len(got) != sent {
		t.Fatalf("the reading subscriber got %d events, want %d", len(got), sent)
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("events out of order at %d: %d after %d", i, got[i], got[i-1])
		}
	}
}

// A subscriber resuming after event N gets the kept events after it first.
func TestResumeAfter(t *testing.T) {
	tests := []struct {
		after uint64
		want  []uint64
	}{
		{0, nil},
		{4, []uint64{5, 6}},
		{1, []uint64{3, 4, 5, 6}}, // 2 is gone from a ring of 4
		{6, nil},
	}
	for _, tt := range tests {
		b := events.New(16, 4)
		for i := 1; i <= 6; i++ {
			b.Publish(deploy("shop", i))
		}
		s := b.Subscribe(nil, tt.after)
		b.Publish(deploy("marker", 0))
		var ids []uint64
		for e := range s.C {
			if e.App == "marker" {
				break
			}
			ids = append(ids, e.ID)
		}
		s.Close()
		if fmt.Sprint(ids) != fmt.Sprint(tt.want) {
			t.Errorf("after %d: got %v, want %v", tt.after, ids, tt.want)
		}
	}
}

// Publishers on many goroutines and subscribers coming and going stay
// race-free.
func TestConcurrentPublishAndSubscribe(t *testing.T) {
	b := events.New(4, 16)
	var wg sync.WaitGroup
	for p := 0; p < 4; p++ {
		wg.Go(func() {
			for i := 0; i < 200; i++ {
				b.Publish(deploy(fmt.Sprint("app", p), i))
			}
		})
	}
	for c := 0; c < 4; c++ {
		wg.Go(func() {
			for i := 0; i < 20; i++ {
				s := b.Subscribe(nil, uint64(i))
				select {
				case <-s.C:
				case <-time.After(time.Millisecond):
				}
				s.Close()
			}
		})
	}
	wg.Wait()
	if n := b.Subscribers(); n != 0 {
		t.Fatalf("%d subscriptions left open", n)
	}
}

// Close ends every subscription, without marking them dropped, and
// those made after it.
func TestClose(t *testing.T) {
	b := events.New(4, 0)
	s := b.Subscribe(nil, 0)
	b.Close()
	if _, ok := <-s.C; ok || s.Dropped() {
		t.Fatalf("after Close: channel open %v, dropped %v", ok, s.Dropped())
	}
	late := b.Subscribe(nil, 0)
	if _, ok := <-late.C; ok {
		t.Fatal("a subscription made after Close is open")
	}
	b.Publish(deploy("shop", 1)) // no subscriber, no panic
	if b.Subscribers() != 0 {
		t.Fatalf("%d subscribers after Close", b.Subscribers())
	}
}
