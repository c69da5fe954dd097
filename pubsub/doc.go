// Package pubsub carries the routing table from the controller to the routers
// over Redis PubSub (docs/routing.md).
//
// The controller runs a Publisher: it publishes the full table on CHANNEL at
// once when told the routes changed (bursts coalesced within a few
// milliseconds), again every Republish as a heartbeat, when any router asks on
// CHANNEL.sync, and after reconnecting to Redis. Routers run a Subscriber: it
// subscribes to CHANNEL, asks for the table on CHANNEL.sync after every
// (re)subscribe, and hands over only tables that are newer than the one it
// applied last, in the (epoch, version) order, and that are signed with a
// routes key (sign.go) and come from the cluster the router serves.
//
// Redis holds no state of ours, and Redis being down never blocks a caller:
// both sides log the failure, retry with capped exponential backoff in their
// own Run loop, and carry on when Redis is back.
package pubsub

import (
	"encoding/json"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// SyncSuffix is appended to the channel name to form the channel on which
// routers ask the controller to publish the table at once.
const SyncSuffix = ".sync"

// DefaultCoalesce is how long a publish waits for more changes of a burst
// after the previous publish.
const DefaultCoalesce = 2 * time.Millisecond

// Backoff bounds for retrying Redis after a failure.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// opTimeout bounds every single Redis call (PUBLISH, SUBSCRIBE, PING).
const opTimeout = 3 * time.Second

// backoff is a capped exponential delay. Not safe for concurrent use: each
// loop owns its own.
type backoff struct{ d time.Duration }

// next returns the delay to wait now and doubles the following one.
func (b *backoff) next() time.Duration {
	if b.d < minBackoff {
		b.d = minBackoff
	}
	d := b.d
	b.d = min(2*b.d, maxBackoff)
	return d
}

func (b *backoff) reset() { b.d = 0 }

// sleep waits d or until done is closed; it reports whether d elapsed.
func sleep(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return false
	case <-t.C:
		return true
	}
}

// Encode returns the wire form of t: the JSON of cluster.RoutingTable with
// routes, and each app's list, never null.
func Encode(t cluster.RoutingTable) ([]byte, error) {
	routes := make(map[string][]string, len(t.Routes))
	for app, addrs := range t.Routes {
		if addrs == nil {
			addrs = []string{}
		}
		routes[app] = addrs
	}
	t.Routes = routes
	return json.Marshal(t)
}

// Decode parses a message published by a controller. Routes is never nil.
func Decode(b []byte) (cluster.RoutingTable, error) {
	var t cluster.RoutingTable
	if err := json.Unmarshal(b, &t); err != nil {
		return cluster.RoutingTable{}, err
	}
	if t.Routes == nil {
		t.Routes = map[string][]string{}
	}
	return t, nil
}
