//go:build integration

package pubsub_test

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/pubsub"
)

// TestSubscriberOrdersByEpochThenVersion publishes, from a raw Redis
// client, the sequences that used to go wrong: a restored controller
// (lower version, higher epoch, same controller id), replays, a lower epoch
// from another controller, and an epoch far in the future.
func TestSubscriberOrdersByEpochThenVersion(t *testing.T) {
	c, ch := testChannel(t)
	s, applied := startSubscriberWith(t, pubsub.SubscriberConfig{Client: pubsub.ClientOf(c), Channel: ch, Keys: [][]byte{testKey}, Cluster: "K"})
	testenv.Eventually(t, 2*time.Second, "subscribed", func() bool { return s.Status().Connected })
	a := attacker{t, c, ch}
	now := uint64(time.Now().UnixNano())
	e1, e2 := now-uint64(time.Hour), now

	a.table(testKey, "K", e1, 22, "A") // before the backup was restored
	a.table(testKey, "K", e1, 22, "A") // heartbeat: same, ignored
	a.table(testKey, "K", e1, 21, "A") // replay of an older one: ignored
	a.table(testKey, "K", e2, 20, "A") // restored file, raised epoch: applied
	a.table(testKey, "K", e1, 99, "A") // replay of the old epoch, higher version: ignored
	a.table(testKey, "K", e1, 1, "B")  // another controller, lower epoch: ignored
	a.table(testKey, "K", e2, 21, "B") // another controller, same epoch, higher version: applied
	a.table(testKey, "K", now+uint64(25*time.Hour), 1, "A")
	a.table(testKey, "K", now+uint64(23*time.Hour), 1, "A") // within a day: applied
	expectApplied(t, applied, fmt.Sprintf("%d.22A", e1), fmt.Sprintf("%d.20A", e2), fmt.Sprintf("%d.21B", e2), fmt.Sprintf("%d.1A", now+uint64(23*time.Hour)))
	st := s.Status()
	if st.Applied != 4 || st.Older != 3 || st.FutureEpoch != 1 || st.Version != 1 || st.Epoch != now+uint64(23*time.Hour) {
		t.Fatalf("status %+v", st)
	}
}

// TestSubscriberDropsForgedTables is the attack: whoever can PUBLISH on
// Redis sends an empty object, an unsigned table with a huge version, and
// tables signed with a wrong key. None is applied; each is counted.
func TestSubscriberDropsForgedTables(t *testing.T) {
	s, applied, log, a := loggedSubscriber(t)
	now := uint64(time.Now().UnixNano())
	a.table(testKey, "K", now, 5, "A")
	expectApplied(t, applied, fmt.Sprintf("%d.5A", now))

	a.publish([]byte(`{}`))
	forged, _ := pubsub.Encode(cluster.RoutingTable{Epoch: now, Version: 1<<64 - 1, Cluster: "K", Controller: "A",
		Routes: map[string][]string{"a.example.com": {"198.51.100.1:80"}}})
	a.publish(forged)
	a.publish([]byte(strings.TrimSuffix(string(forged), "}") + `,"signature":"` + strings.Repeat("ab", 32) + `"}`))
	a.table([]byte("not-the-key-0123456789"), "K", now, 1<<64-1, "A")
	a.publish([]byte("not json"))
	a.publish(pubsub.Sign([]byte(`{"version":9}`), testKey)) // signed, but no cluster
	a.table(testKey, "K", now, 6, "A")                       // the real controller still gets through
	expectApplied(t, applied, fmt.Sprintf("%d.6A", now))
	st := s.Status()
	if st.Unsigned != 3 || st.BadSignature != 2 || st.Invalid != 1 || st.Applied != 2 || st.Version != 6 {
		t.Fatalf("status %+v", st)
	}
	// A flood of forged messages must not flood the log.
	if n := strings.Count(log.String(), "dropping messages"); n != 1 {
		t.Fatalf("6 dropped messages logged %d times, want once:\n%s", n, log.String())
	}
}

// loggedSubscriber starts a subscriber of cluster K with testKey whose
// log is kept, once subscribed, and an attacker on its channel.
func loggedSubscriber(t *testing.T) (*pubsub.Subscriber, <-chan cluster.RoutingTable, *testenv.Log, attacker) {
	c, ch := testChannel(t)
	log := &testenv.Log{}
	s, applied := startSubscriberWith(t, pubsub.SubscriberConfig{Client: pubsub.ClientOf(c), Channel: ch, Keys: [][]byte{testKey}, Cluster: "K",
		Logger: slog.New(slog.NewTextHandler(log, nil))})
	testenv.Eventually(t, 2*time.Second, "subscribed", func() bool { return s.Status().Connected })
	return s, applied, log, attacker{t, c, ch}
}

// TestSubscriberKeyRotation: a router given "new,old" accepts tables signed
// with either, so the controller can switch keys without a gap.
func TestSubscriberKeyRotation(t *testing.T) {
	c, ch := testChannel(t)
	oldKey, newKey := testKey, []byte("rotated-key-0123456789abcdef")
	s, applied := startSubscriberWith(t, pubsub.SubscriberConfig{Client: pubsub.ClientOf(c), Channel: ch, Keys: [][]byte{newKey, oldKey}, Cluster: "K"})
	testenv.Eventually(t, 2*time.Second, "subscribed", func() bool { return s.Status().Connected })
	a := attacker{t, c, ch}
	now := uint64(time.Now().UnixNano())
	a.table(oldKey, "K", now, 1, "A")
	a.table(newKey, "K", now, 2, "A")
	a.table([]byte("third-key-0123456789abcdef"), "K", now, 3, "A")
	expectApplied(t, applied, fmt.Sprintf("%d.1A", now), fmt.Sprintf("%d.2A", now))
	if st := s.Status(); st.BadSignature != 1 {
		t.Fatalf("status %+v", st)
	}
}

// TestSubscriberStaysWithItsCluster: a subscriber without a cluster takes
// the first one heard and hands it to Adopt; tables of another cluster,
// validly signed and newer, are then dropped, counted and shown.
func TestSubscriberStaysWithItsCluster(t *testing.T) {
	c, ch := testChannel(t)
	var mu sync.Mutex
	var adopted []string
	s, applied := startSubscriberWith(t, pubsub.SubscriberConfig{Client: pubsub.ClientOf(c), Channel: ch, Keys: [][]byte{testKey},
		Adopt: func(id string) error { mu.Lock(); defer mu.Unlock(); adopted = append(adopted, id); return nil }})
	testenv.Eventually(t, 2*time.Second, "subscribed", func() bool { return s.Status().Connected })
	if st := s.Status(); st.Cluster != "" {
		t.Fatalf("cluster before any table: %q", st.Cluster)
	}
	a := attacker{t, c, ch}
	now := uint64(time.Now().UnixNano())
	a.table(testKey, "first", now, 3, "A")
	a.table(testKey, "second", now+1, 1, "B")
	a.table(testKey, "second", now+2, 1, "B")
	a.table(testKey, "first", now, 4, "A")
	expectApplied(t, applied, fmt.Sprintf("%d.3A", now), fmt.Sprintf("%d.4A", now))
	st := s.Status()
	if st.Cluster != "first" || st.ForeignCluster != "second" || st.Foreign != 2 {
		t.Fatalf("status %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(adopted) != "[first]" {
		t.Fatalf("Adopt called with %v, want [first]", adopted)
	}
}

// TestSubscriberRefusesUnknownFormat: a signed table of a format above
// the one this release reads (a newer controller's) is not applied but
// counted and logged as an error, once per burst; a canary's table
// (TableFormatCanary) and plain ones are applied.
func TestSubscriberRefusesUnknownFormat(t *testing.T) {
	s, applied, log, a := loggedSubscriber(t)
	now := uint64(time.Now().UnixNano())
	signed := func(format int, version uint64) {
		msg, err := pubsub.Encode(cluster.RoutingTable{Epoch: now, Version: version, Cluster: "K", Controller: "A", Format: format,
			Routes: map[string][]string{"a.example.com": {"198.51.100.1:80"}},
			Canary: map[string]cluster.CanaryRoute{"a.example.com": {Revision: 2, Weight: 10, Routes: []string{"198.51.100.2:80"}}}})
		if err != nil {
			t.Fatal(err)
		}
		a.publish(pubsub.Sign(msg, testKey))
	}
	signed(cluster.TableFormatCanary, 1)
	signed(cluster.TableFormatKnown+1, 2)
	signed(cluster.TableFormatKnown+1, 3)
	signed(0, 4)
	expectApplied(t, applied, fmt.Sprintf("%d.1A", now), fmt.Sprintf("%d.4A", now))
	st := s.Status()
	if st.UnknownFormat != 2 || st.Format != cluster.TableFormatKnown+1 || st.Applied != 2 || st.Version != 4 {
		t.Fatalf("status %+v", st)
	}
	if n := strings.Count(log.String(), "refusing routing tables of a format"); n != 1 || !strings.Contains(log.String(), "level=ERROR") {
		t.Fatalf("2 tables of an unknown format logged %d times, want once as an error:\n%s", n, log.String())
	}
}

// TestSubscriberFloor: a subscriber given the table its router kept from
// its last run drops older and equal tables of that cluster (replays,
// however well signed), counting the older ones, and applies the next
// newer one; its status shows the floor until then.
func TestSubscriberFloor(t *testing.T) {
	t.Parallel()
	c, ch := testChannel(t)
	now := uint64(time.Now().UnixNano())
	floor := cluster.RoutingTable{Epoch: now, Version: 5, Cluster: "K", Controller: "A"}
	s, applied := startSubscriberWith(t, pubsub.SubscriberConfig{Client: pubsub.ClientOf(c), Channel: ch, Keys: [][]byte{testKey}, Cluster: "K", Floor: &floor})
	if st := s.Status(); st.Epoch != now || st.Version != 5 || st.Controller != "A" || st.Applied != 0 {
		t.Fatalf("status before any table: %+v, want the floor's epoch, version and controller", st)
	}
	testenv.Eventually(t, 2*time.Second, "subscribed", func() bool { return s.Status().Connected })
	a := attacker{t, c, ch}
	a.table(testKey, "K", now, 4, "A")                   // a replay of an older table
	a.table(testKey, "K", now-uint64(time.Hour), 9, "A") // of an older epoch
	a.table(testKey, "K", now, 5, "A")                   // the floor itself (a heartbeat)
	a.table(testKey, "K", now, 6, "A")                   // newer: applied
	expectApplied(t, applied, fmt.Sprintf("%d.6A", now))
	if st := s.Status(); st.Older != 2 || st.Applied != 1 || st.Version != 6 {
		t.Fatalf("status %+v, want 2 older dropped and version 6 applied", st)
	}
}
