package scheduler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// containerID returns a container id as Docker makes them: 64 hex digits.
func containerID(i int) string {
	sum := sha256.Sum256([]byte("container " + strconv.Itoa(i)))
	return hex.EncodeToString(sum[:])
}

// TestFirstProbeSpread: the first checks of many instances fall within the
// next interval, spread evenly over it, and an instance's phase is the same
// whenever it is first seen.
func TestFirstProbeSpread(t *testing.T) {
	const n, buckets = 10000, 20
	interval := 5 * time.Second
	now := time.Date(2026, 11, 25, 15, 0, 1, 234_000_000, time.UTC)
	counts := make([]int, buckets)
	for i := range n {
		id := containerID(i)
		at := firstProbe(now, interval, id)
		if at.Before(now) || !at.Before(now.Add(interval)) {
			t.Fatalf("first check of %s at %s, want within [%s, %s)", id[:12], at, now, now.Add(interval))
		}
		counts[int(at.Sub(now)*buckets/interval)]++
		// Seen again 7.3 intervals later, it keeps its phase.
		later := now.Add(73 * interval / 10)
		again := firstProbe(later, interval, id)
		if again.Before(later) || !again.Before(later.Add(interval)) || (again.Sub(at)%interval) != 0 {
			t.Fatalf("%s: first check %s, seen later %s: phase changed", id[:12], at, again)
		}
	}
	// Uniform: n/buckets = 500 per bucket; a spread that bunches the
	// checks (or puts them all at the start of the interval) is far off.
	for b, c := range counts {
		if c < 400 || c > 600 {
			t.Errorf("bucket %d of %d holds %d first checks, want about %d: %v", b, buckets, c, n/buckets, counts)
		}
	}
}

func TestNextCheck(t *testing.T) {
	const interval = time.Second
	id := containerID(42)
	base := time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)
	phase := firstProbe(base, interval, id) // the target's first slot at or after base
	at := func(d time.Duration) time.Time { return phase.Add(d) }
	tests := []struct {
		name     string
		ended    time.Duration // after the slot
		failures int
		want     time.Duration // after the slot
	}{
		{"passed on time: its next slot", 10 * time.Millisecond, 0, interval},
		{"passed, held back past its next slot: the one after", 1500 * time.Millisecond, 0, 2 * interval},
		{"passed, held back several intervals", 3200 * time.Millisecond, 0, 4 * interval},
		{"first failure: confirmed half an interval later", 10 * time.Millisecond, 1, 510 * time.Millisecond},
		{"first failure of a late check: half an interval after it ended", 1700 * time.Millisecond, 1, 2200 * time.Millisecond},
		{"second failure (unhealthy): back to its slots", 520 * time.Millisecond, 2, interval},
		{"still failing: its slots", 10 * time.Millisecond, 5, interval},
	}
	for _, tt := range tests {
		got := nextCheck(at(tt.ended), interval, id, tt.failures)
		if !got.Equal(at(tt.want)) {
			t.Errorf("%s: nextCheck(ended %s after the slot, %d failures) = %s after the slot, want %s", tt.name, tt.ended, tt.failures, got.Sub(phase), tt.want)
		}
		if got.Before(at(tt.ended)) {
			t.Errorf("%s: next check before the last ended", tt.name)
		}
	}
}

// instanceServer is a real HTTP server standing in for many instances: its
// health path answers 200, or 500 for the paths set failing, after delay;
// it counts the requests it is serving at once.
type instanceServer struct {
	*httptest.Server
	delay   time.Duration
	mu      sync.Mutex
	failing map[string]bool
	serving int
	peak    int
	hits    map[string][]time.Time // path -> when each request arrived
}

func newInstanceServer(tb testing.TB, delay time.Duration) *instanceServer {
	s := &instanceServer{delay: delay, failing: map[string]bool{}, hits: map[string][]time.Time{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.serving++
		s.peak = max(s.peak, s.serving)
		s.hits[r.URL.Path] = append(s.hits[r.URL.Path], time.Now())
		fail := s.failing[r.URL.Path]
		s.mu.Unlock()
		time.Sleep(s.delay)
		s.mu.Lock()
		s.serving--
		s.mu.Unlock()
		if fail {
			http.Error(w, "failing as asked", http.StatusInternalServerError)
		}
	}))
	// On every loopback address, so targets can be on several hosts.
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.Listener.Close()
	s.Listener = l
	s.Start()
	tb.Cleanup(s.Close)
	return s
}

func (s *instanceServer) setFailing(path string, failing bool) {
	s.mu.Lock()
	s.failing[path] = failing
	s.mu.Unlock()
}

func (s *instanceServer) hitsOf(path string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.hits[path]...)
}

// targets returns n targets on s, each with its own health path so the
// server tells them apart.
func (s *instanceServer) targets(n int) []ProbeTarget {
	port := s.Listener.Addr().(*net.TCPAddr).Port
	out := make([]ProbeTarget, n)
	for i := range out {
		out[i] = ProbeTarget{ID: containerID(i), Host: "127.0.0.1", Port: port, Path: "/ping/" + strconv.Itoa(i)}
	}
	return out
}

func runProber(tb testing.TB, p *Prober) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
}

// TestProberBoundsChecksInFlight: with more checks due than the bound
// allows, the server never serves more than the bound at once, and the
// prober's own count agrees.
func TestProberBoundsChecksInFlight(t *testing.T) {
	const bound = 3
	srv := newInstanceServer(t, 50*time.Millisecond)
	// 60 targets checked every 300ms for 50ms each want 10 at once.
	p := NewProber(ProberConfig{Interval: 300 * time.Millisecond, MaxInFlight: bound})
	p.Track(srv.targets(60), nil)
	runProber(t, p)
	testenv.Eventually(t, 20*time.Second, "every target checked twice", func() bool {
		for _, tg := range srv.targets(60) {
			if len(srv.hitsOf(tg.Path)) < 2 {
				return false
			}
		}
		return true
	})
	srv.mu.Lock()
	peak := srv.peak
	srv.mu.Unlock()
	st := p.Stats()
	t.Logf("server peak %d at once, prober peak %d, bound %d; %d checks, latest start %s after due", peak, st.PeakInFlight, bound, st.Probes, st.MaxLate)
	if peak > bound || st.PeakInFlight > bound {
		t.Fatalf("%d checks served at once (prober counted %d), bound %d", peak, st.PeakInFlight, bound)
	}
	if peak < 2 {
		t.Fatalf("the server never served two checks at once although 10 were wanted at once: the checks do not run concurrently")
	}
}

// TestProberTimersAndHealth: each target is checked about once per
// interval on its own timer; an instance failing two checks in a row is
// reported unhealthy and OnChange is called, and once it passes again it
// is reported healthy and OnChange is called again.
func TestProberTimersAndHealth(t *testing.T) {
	srv := newInstanceServer(t, 0)
	var changes atomic.Int32
	interval := 400 * time.Millisecond
	p := NewProber(ProberConfig{Interval: interval, OnChange: func() { changes.Add(1) }})
	targets := srv.targets(20)
	p.Track(targets, nil)
	runProber(t, p)
	testenv.Eventually(t, 10*time.Second, "every target checked", func() bool { return p.Stats().Checked == len(targets) })
	healthy, unhealthy := p.Health()
	if len(healthy) != len(targets) || len(unhealthy) != 0 {
		t.Fatalf("healthy %d, unhealthy %d; want all %d healthy", len(healthy), len(unhealthy), len(targets))
	}

	// Each target on its own timer: over 5 intervals, 4 to 6 checks each,
	// at least half an interval apart (a check is never crowded in early).
	time.Sleep(5 * interval)
	for _, tg := range targets {
		hits := srv.hitsOf(tg.Path)
		if len(hits) < 4 {
			t.Errorf("%s checked %d times in about 6 intervals, want one per interval", tg.Path, len(hits))
		}
		for i := 1; i < len(hits); i++ {
			if gap := hits[i].Sub(hits[i-1]); gap < interval/2 {
				t.Errorf("%s checked twice %s apart, interval %s", tg.Path, gap, interval)
			}
		}
	}

	sick := targets[7]
	before, _ := p.Health()
	srv.setFailing(sick.Path, true)
	switched := time.Now()
	testenv.Eventually(t, 10*time.Second, "failing target reported unhealthy", func() bool { _, u := p.Health(); return u[sick.ID] })
	if !before[sick.ID] || len(before) != len(targets) {
		t.Fatal("the results handed out before the failure changed under their reader")
	}
	if got := len(srv.hitsOf(sick.Path)); got < 2 {
		t.Fatalf("unhealthy after %d checks", got)
	}
	// The failure was confirmed half an interval after it was first seen,
	// not a whole one.
	var failing []time.Time
	for _, h := range srv.hitsOf(sick.Path) {
		if h.After(switched) {
			failing = append(failing, h)
		}
	}
	if len(failing) < 2 || failing[1].Sub(failing[0]) > 3*interval/4 {
		t.Fatalf("failing checks at %v after the switch: the second should follow the first by half an interval", failing)
	}
	if changes.Load() != 1 {
		t.Fatalf("OnChange called %d times when one target became unhealthy, want 1", changes.Load())
	}
	srv.setFailing(sick.Path, false)
	testenv.Eventually(t, 10*time.Second, "target passing again reported healthy", func() bool { h, _ := p.Health(); return h[sick.ID] })
	if _, u := p.Health(); u[sick.ID] {
		t.Fatal("target reported both healthy and unhealthy")
	}
	if changes.Load() != 2 {
		t.Fatalf("OnChange called %d times after the target recovered, want 2", changes.Load())
	}
}

// TestProberTrack: targets not listed again are dropped unless their host
// is kept; a target whose address changed starts afresh.
func TestProberTrack(t *testing.T) {
	srv := newInstanceServer(t, 0)
	targets := srv.targets(4)
	targets[2].Host, targets[3].Host = "127.0.0.2", "127.0.0.3"
	p := NewProber(ProberConfig{Interval: 200 * time.Millisecond})
	p.Track(targets, nil)
	runProber(t, p)
	testenv.Eventually(t, 10*time.Second, "every target checked", func() bool { return p.Stats().Checked == 4 })

	// Only targets[0] listed; host 127.0.0.2 did not answer (kept), the
	// others were listed without their containers (dropped).
	p.Track(targets[:1], func(host string) bool { return host == "127.0.0.2" })
	healthy, _ := p.Health()
	if !healthy[targets[0].ID] || !healthy[targets[2].ID] || healthy[targets[1].ID] || healthy[targets[3].ID] || p.Stats().Targets != 2 {
		t.Fatalf("after Track: healthy %v, %d targets; want targets 0 and 2 only", healthy, p.Stats().Targets)
	}

	moved := targets[0]
	moved.Path = "/moved"
	srv.setFailing("/moved", true)
	p.Track([]ProbeTarget{moved, targets[2]}, nil)
	if h, u := p.Health(); h[moved.ID] || u[moved.ID] {
		t.Fatal("a target whose address changed kept the old address's result")
	}
	testenv.Eventually(t, 10*time.Second, "moved target unhealthy", func() bool { _, u := p.Health(); return u[moved.ID] })
}

// TestProberCheckUnchecked: the targets asked for that have no result yet
// are checked at once, the others are left to their timers.
func TestProberCheckUnchecked(t *testing.T) {
	srv := newInstanceServer(t, 0)
	targets := srv.targets(4)
	srv.setFailing(targets[1].Path, true)
	p := NewProber(ProberConfig{Interval: time.Hour}) // no timer is due during the test
	p.Track(targets, nil)
	p.CheckUnchecked(context.Background(), []string{targets[0].ID, targets[1].ID, "not-tracked"})
	healthy, unhealthy := p.Health()
	if !healthy[targets[0].ID] || healthy[targets[1].ID] || healthy[targets[2].ID] || len(unhealthy) != 0 {
		t.Fatalf("healthy %v, unhealthy %v; want target 0 healthy, target 1 failed once (neither), 2 and 3 unchecked", healthy, unhealthy)
	}
	if st := p.Stats(); st.Checked != 2 || st.Probes != 2 || st.Failed != 1 {
		t.Fatalf("stats %+v, want 2 checked, 1 failed", st)
	}
	// Checked already: not again.
	p.CheckUnchecked(context.Background(), []string{targets[0].ID})
	if n := len(srv.hitsOf(targets[0].Path)); n != 1 {
		t.Fatalf("target 0 checked %d times, want 1", n)
	}
	if n := len(srv.hitsOf(targets[2].Path)); n != 0 {
		t.Fatalf("target 2 checked %d times before its timer, want 0", n)
	}
}

// A container its rollout found healthy is taken as passing at once: the
// checks that failed while it was still starting (here, a path failing
// until then) do not keep it unhealthy until its next check. A lone
// target is checked again on its own timer (before, Run slept until the
// next Track while its only target was in flight, so never confirmed a
// failure in time).
func TestProberPassed(t *testing.T) {
	srv := newInstanceServer(t, 0)
	targets := srv.targets(1)
	srv.setFailing(targets[0].Path, true)
	p := NewProber(ProberConfig{Interval: 100 * time.Millisecond})
	p.Track(targets, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	testenv.Eventually(t, 10*time.Second, "the starting target unhealthy", func() bool { _, u := p.Health(); return u[targets[0].ID] })
	cancel() // no check of the prober's own after this
	<-done

	p.Passed(targets[0].ID)
	p.Passed("not-tracked")
	if healthy, unhealthy := p.Health(); !healthy[targets[0].ID] || unhealthy[targets[0].ID] || len(healthy) != 1 {
		t.Fatalf("after Passed: healthy %v, unhealthy %v; want the target healthy and nothing else", healthy, unhealthy)
	}
}
