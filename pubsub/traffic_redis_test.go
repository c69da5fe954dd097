//go:build integration

package pubsub_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/pubsub"
)

// Over a real Redis, the receiver takes the summaries a sender signed with
// one of its keys, and drops (and counts) an unsigned one, one signed with
// another key and one of another cluster, published on its channel.
func TestTrafficOverRedis(t *testing.T) {
	c, ch := testChannel(t)
	key, other := []byte("traffic-key-0123456789"), []byte("other-key-0123456789")
	rx := pubsub.NewTrafficReceiver(pubsub.TrafficReceiverConfig{Client: pubsub.ClientOf(c), Channel: ch, Keys: [][]byte{key}, Cluster: "cl-1"})
	var mu sync.Mutex
	var got []cluster.TrafficSummary
	run(t, func(ctx context.Context) error {
		rx.Run(ctx, func(s cluster.TrafficSummary) { mu.Lock(); got = append(got, s); mu.Unlock() })
		return nil
	})
	ctx := context.Background()
	// Subscribing takes a moment: send until the first summary is heard.
	good := summary()
	good.Cluster = "cl-1"
	send := pubsub.NewTrafficSender(pubsub.ClientOf(c), ch, key, nil)
	testenv.Eventually(t, 10*time.Second, "a signed summary taken", func() bool {
		if err := send.Send(ctx, good); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0
	})
	bad := good
	bad.Router = "forger"
	forged, _ := pubsub.EncodeTraffic(bad, other)
	foreign := good
	foreign.Cluster = "cl-2"
	foreignMsg, _ := pubsub.EncodeTraffic(foreign, key)
	for _, msg := range []string{`{"cluster":"cl-1","router":"r9","sequence":1,"apps":{}}`, string(forged), string(foreignMsg)} {
		if err := c.Publish(ctx, ch+pubsub.TrafficSuffix, msg).Err(); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 10*time.Second, "three messages dropped", func() bool { return rx.Status().Dropped == 3 })
	// Every summary taken is one the sender sent (those sent before the
	// subscription were lost, as on PubSub).
	mu.Lock()
	defer mu.Unlock()
	for _, s := range got {
		if s.Cluster != "cl-1" || s.Router != good.Router || s.Apps["a.example.com"].Requests() != 10 {
			t.Errorf("taken: %+v", s)
		}
	}
}
