//go:build integration

package pubsub_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/pubsub"
)

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
