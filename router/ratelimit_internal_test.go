package router

import (
	"net/netip"
	"testing"
	"time"
)

// A client gets its burst at once, then one request per interval; another
// client has its own bucket; an idle client's bucket fills up to the
// burst, never beyond.
func TestClientLimiterBucket(t *testing.T) {
	l := newClientLimiter(100*time.Millisecond, 3, 100)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()
	ms := int64(time.Millisecond)
	for i := range 3 {
		if ok, _ := l.allow(a, t0); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	if ok, wait := l.allow(a, t0); ok || wait != 100*time.Millisecond {
		t.Fatalf("4th request at once: %v, wait %v; want refused for 100ms", ok, wait)
	}
	if ok, _ := l.allow(b, t0); !ok {
		t.Fatal("another client is refused")
	}
	if ok, wait := l.allow(a, t0+40*ms); ok || wait != 60*time.Millisecond {
		t.Fatalf("40ms later: %v, wait %v; want refused for 60ms", ok, wait)
	}
	if ok, _ := l.allow(a, t0+100*ms); !ok {
		t.Fatal("one interval later: refused")
	}
	if ok, _ := l.allow(a, t0+150*ms); ok {
		t.Fatal("half an interval after that: allowed")
	}
	// Idle for ten intervals: the bucket holds the burst again, not ten.
	later := t0 + 1200*ms
	for i := range 3 {
		if ok, _ := l.allow(a, later); !ok {
			t.Fatalf("after a pause, request %d of the burst refused", i+1)
		}
	}
	if ok, _ := l.allow(a, later); ok {
		t.Fatal("after a pause, more than the burst allowed")
	}
}

// A hostile client with many addresses fills the limiter only up to its
// cap, and a client that stays active keeps its (empty) bucket while the
// others come and go: evicting is least recently seen first.
func TestClientLimiterBoundedMemory(t *testing.T) {
	const maxClients = 64
	l := newClientLimiter(time.Second, 2, maxClients)
	t0 := time.Now().UnixNano()
	steady := netip.MustParseAddr("198.51.100.7")
	l.allow(steady, t0)
	l.allow(steady, t0)
	base := netip.MustParseAddr("10.0.0.0").As4()
	for i := range 100000 {
		k := base
		k[1], k[2], k[3] = byte(i>>16), byte(i>>8), byte(i)
		l.allow(netip.AddrFrom4(k), t0)
		if i%16 == 0 {
			if ok, _ := l.allow(steady, t0); ok {
				t.Fatalf("the steady client got a request past its burst after %d other clients", i)
			}
		}
		if n := l.tracked(); n > maxClients {
			t.Fatalf("%d clients tracked after %d addresses, cap %d", n, i+1, maxClients)
		}
	}
	if n := len(l.clients); n != maxClients {
		t.Fatalf("%d clients in the map, want the cap %d", n, maxClients)
	}
	count := 0
	for c := l.lru.next; c != &l.lru; c = c.next {
		count++
	}
	if count != maxClients {
		t.Fatalf("LRU list holds %d, map %d", count, maxClients)
	}
}

// Clients whose bucket is full again are dropped a few per request, so an
// app's limiter shrinks back to its active clients without a sweeper.
func TestClientLimiterDropsIdleClients(t *testing.T) {
	l := newClientLimiter(10*time.Millisecond, 5, 1000)
	t0 := time.Now().UnixNano()
	for i := range 500 {
		l.allow(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), t0)
	}
	if n := l.tracked(); n != 500 {
		t.Fatalf("%d tracked, want 500", n)
	}
	later := t0 + int64(time.Second) // every bucket is full again
	active := netip.MustParseAddr("203.0.113.5")
	for range 300 {
		l.allow(active, later)
		later += int64(10 * time.Millisecond) // its rate: it stays within it
	}
	if n := l.tracked(); n != 1 {
		t.Fatalf("%d tracked after the idle ones' buckets filled, want the active one alone", n)
	}
}

func TestLimitKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":                "192.0.2.1",
		"::ffff:192.0.2.1":         "192.0.2.1",
		"2001:db8:1:2:3:4:5:6":     "2001:db8:1:2::",
		"2001:db8:1:2:ffff::1":     "2001:db8:1:2::",
		"2001:db8:1:3::1":          "2001:db8:1:3::",
		"fe80::1234:5678:9abc:def": "fe80::",
	} {
		if got := limitKey(netip.MustParseAddr(in)); got.String() != want {
			t.Errorf("limitKey(%s) = %s, want %s", in, got, want)
		}
	}
}

// The client's address is the peer's, or behind trusted proxies the
// nearest untrusted address of X-Forwarded-For, read from the right.
func TestClientAddr(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	edge := New(Config{})
	behind := New(Config{TrustForwarded: trusted})
	for _, tc := range []struct {
		r      *Router
		remote string
		xff    []string
		want   string
	}{
		{edge, "198.51.100.1:5000", nil, "198.51.100.1"},
		{edge, "198.51.100.1:5000", []string{"203.0.113.9"}, "198.51.100.1"}, // not trusted: the chain is the client's word
		{edge, "[2001:db8::1]:443", nil, "2001:db8::1"},
		{behind, "198.51.100.1:5000", []string{"203.0.113.9"}, "198.51.100.1"},
		{behind, "10.1.2.3:5000", nil, "10.1.2.3"},
		{behind, "10.1.2.3:5000", []string{"203.0.113.9"}, "203.0.113.9"},
		{behind, "10.1.2.3:5000", []string{"6.6.6.6, 203.0.113.9, 192.0.2.1"}, "203.0.113.9"}, // 6.6.6.6 is what the client claimed
		{behind, "10.1.2.3:5000", []string{"6.6.6.6", "203.0.113.9 ,10.9.9.9"}, "203.0.113.9"},
		{behind, "10.1.2.3:5000", []string{"10.0.0.5, 10.0.0.6"}, "10.0.0.5"}, // all trusted: the farthest
		{behind, "10.1.2.3:5000", []string{"junk, 10.0.0.6"}, "10.0.0.6"},
		{behind, "10.1.2.3:5000", []string{"[2001:db8::1]"}, "10.1.2.3"},
		{behind, "10.1.2.3:5000", []string{"2001:db8::1"}, "2001:db8::1"},
		{behind, "[::ffff:10.1.2.3]:5000", []string{"203.0.113.9"}, "203.0.113.9"},
	} {
		got, ok := tc.r.clientAddr(tc.remote, tc.xff)
		if !ok || got.String() != tc.want {
			t.Errorf("trusted %v, peer %s, X-Forwarded-For %q: %v %v, want %s", tc.r.trusted, tc.remote, tc.xff, got, ok, tc.want)
		}
	}
	if _, ok := edge.clientAddr("pipe", nil); ok {
		t.Error("a peer without an address gave one")
	}
}
