package pubsub

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/longshoreman/longshoreman/cluster"
)

// SubscriberConfig configures a Subscriber. Client is required.
type SubscriberConfig struct {
	// Client is the Redis connection. The subscriber does not close it.
	Client *Client
	// Channel is the PubSub channel; default cluster.DefaultChannel.
	Channel string
	// Logger receives failures and recoveries; default slog.Default().
	Logger *slog.Logger
	// Name identifies this router in its sync requests; default
	// hostname:pid.
	Name string
	// Keys verify the tables' signatures (required; see ParseKeys).
	// Unsigned and badly signed messages are dropped and counted.
	Keys [][]byte
	// Cluster is the cluster id whose tables are applied; tables of any
	// other cluster are dropped, counted and logged. Empty: take the
	// cluster of the first validly signed table, and call Adopt with it.
	Cluster string
	// Adopt, when set, is called once with the cluster taken when Cluster
	// was empty, so the router can keep it across restarts. An error is
	// logged; the cluster is kept in memory regardless.
	Adopt func(cluster string) error
	// Floor, when set, is the table the router serves already: the one
	// its last run applied and kept. A table of Floor's cluster is then
	// applied only when its (Epoch, Version) is higher, as if Floor had
	// been heard first, so that an older table, validly signed but
	// captured and replayed, is dropped and counted (Older) after a
	// restart as well. Status reports Floor's epoch, version and
	// controller until a table is applied.
	Floor *cluster.RoutingTable
}

// MaxEpochAhead is how far ahead of the router's clock a table's epoch may
// be: a controller raises its epoch to its clock, so a table further ahead
// comes from a badly wrong clock or a forged message, and applying it would
// make the router ignore the real controller for that long.
const MaxEpochAhead = 24 * time.Hour

// foreignLogEvery and dropLogEvery limit how often tables of another cluster
// and dropped messages are logged.
const (
	foreignLogEvery = time.Minute
	dropLogEvery    = 10 * time.Second
)

// SubscriberStatus is what a router reports about its feed.
type SubscriberStatus struct {
	Connected   bool      `json:"connected"`    // subscribed right now
	LastError   string    `json:"last_error"`   // the last failure, kept after recovery
	Errors      uint64    `json:"errors"`       // failures so far
	Received    uint64    `json:"received"`     // messages received
	Applied     uint64    `json:"applied"`      // tables handed to apply
	Invalid     uint64    `json:"invalid"`      // messages that were not a table
	Version     uint64    `json:"version"`      // version of the last applied table
	Controller  string    `json:"controller"`   // controller of the last applied table
	LastApplied time.Time `json:"last_applied"` // zero until the first table

	Cluster        string `json:"cluster"`         // the cluster served; empty until the first table when none was kept
	Epoch          uint64 `json:"epoch"`           // epoch of the last applied table
	ForeignCluster string `json:"foreign_cluster"` // the last other cluster heard publishing, if any
	Unsigned       uint64 `json:"unsigned"`        // messages without a signature, dropped
	BadSignature   uint64 `json:"bad_signature"`   // messages signed with no key we have, dropped
	FutureEpoch    uint64 `json:"future_epoch"`    // tables with an epoch more than MaxEpochAhead ahead, dropped
	Foreign        uint64 `json:"foreign"`         // tables of another cluster, dropped
	Older          uint64 `json:"older"`           // tables older than the one applied (replays), dropped
	// UnknownFormat counts the tables of a format above the one this
	// release reads (cluster.TableFormatKnown: a newer controller's),
	// dropped and logged as errors; Format is the last such format.
	UnknownFormat uint64 `json:"unknown_format"`
	Format        int    `json:"format,omitempty"`
}

// Subscriber receives routing tables. Status is safe from any goroutine; Run
// is called once.
type Subscriber struct {
	client  *redis.Client
	channel string
	log     *slog.Logger
	name    string
	keys    [][]byte
	adopt   func(string) error
	floor   *cluster.RoutingTable
	now     func() time.Time

	mu     sync.Mutex // guards status
	status SubscriberStatus
}

// NewSubscriber returns a subscriber; nothing talks to Redis until Run.
func NewSubscriber(cfg SubscriberConfig) *Subscriber {
	s := &Subscriber{client: cfg.Client.rdb, channel: cfg.Channel, log: cfg.Logger, name: cfg.Name,
		keys: cfg.Keys, adopt: cfg.Adopt, floor: cfg.Floor, now: time.Now}
	s.status.Cluster = cfg.Cluster
	if f := cfg.Floor; f != nil {
		s.status.Epoch, s.status.Version, s.status.Controller = f.Epoch, f.Version, f.Controller
	}
	if s.channel == "" {
		s.channel = cluster.DefaultChannel
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("component", "subscriber", "channel", s.channel)
	if s.name == "" {
		h, _ := os.Hostname()
		s.name = h + ":" + strconv.Itoa(os.Getpid())
	}
	return s
}

// Status returns a snapshot of the subscriber's health and counters.
func (s *Subscriber) Status() SubscriberStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Run subscribes to the channel, asks for the table on CHANNEL.sync after
// every (re)subscribe, and calls apply, on Run's goroutine, for each validly
// signed table of the cluster served whose (Epoch, Version) is higher than
// that of the last applied one (or of the Floor), whatever its Controller.
// Everything else is dropped and counted in Status. Redis failures are logged and retried with
// capped exponential backoff. Run returns nil when ctx ends.
func (s *Subscriber) Run(ctx context.Context, apply func(cluster.RoutingTable)) error {
	if s.client == nil || apply == nil {
		return errors.New("pubsub: a Subscriber needs a Client and an apply function")
	}
	if len(s.keys) == 0 {
		return errors.New("pubsub: a Subscriber needs the routes keys to verify tables")
	}
	var feed feedState
	if s.floor != nil {
		feed.have, feed.last = true, *s.floor
	}
	w := watcher{
		client: s.client,
		log:    s.log,
		onSubscribed: func() {
			s.mu.Lock()
			s.status.Connected = true
			s.mu.Unlock()
			s.requestSync(ctx)
		},
		onMessage: func(m *redis.Message) {
			t, ok := s.admit([]byte(m.Payload), &feed)
			if !ok {
				return
			}
			apply(t)
			s.mu.Lock()
			s.status.Applied++
			s.status.Version = t.Version
			s.status.Epoch = t.Epoch
			s.status.Controller = t.Controller
			s.status.LastApplied = time.Now()
			s.mu.Unlock()
		},
		onError: func(err error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.status.Connected = false
			s.status.LastError = err.Error()
			s.status.Errors++
		},
	}
	w.run(ctx, s.channel)
	return nil
}

// feedState is what Run remembers between messages; only Run's goroutine
// touches it.
type feedState struct {
	have       bool
	last       cluster.RoutingTable // the last applied table, or the Floor
	foreignLog time.Time            // when another cluster was last logged
	dropLog    time.Time            // when a dropped message was last logged
	formatLog  time.Time            // when a table of an unknown format was last logged
}

// admit decides whether a message is a table to apply now, counting and
// logging what it drops, and records an accepted table in f.
func (s *Subscriber) admit(msg []byte, f *feedState) (cluster.RoutingTable, bool) {
	t, verdict := s.check(msg)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.Received++
	switch verdict {
	case accept:
	case dropUnsigned:
		s.status.Unsigned++
	case dropBadSignature:
		s.status.BadSignature++
	case dropInvalid:
		s.status.Invalid++
	case dropFutureEpoch:
		s.status.FutureEpoch++
	case dropUnknownFormat:
		s.status.UnknownFormat++
		s.status.Format = t.Format
		if now := s.now(); now.Sub(f.formatLog) >= dropLogEvery {
			f.formatLog = now
			s.log.Error("refusing routing tables of a format this router does not know: the controller routes a canary with weights that this release cannot apply; upgrade this router. It keeps serving the last table it applied",
				"format", t.Format, "known", cluster.TableFormatKnown, "epoch", t.Epoch, "version", t.Version, "refused", s.status.UnknownFormat)
		}
		return t, false
	}
	if verdict != accept {
		// Rate-limited: anyone who can publish on Redis can send these.
		if now := s.now(); now.Sub(f.dropLog) >= dropLogEvery {
			f.dropLog = now
			s.log.Warn("dropping messages on the routing-table channel that are not tables signed with our routes key: check that LONGSHOREMAN_ROUTES_KEY matches `longshoreman token --routes-key` on the controller and that the controller runs this release; the status answer counts them",
				"reason", verdict, "size", len(msg), "unsigned", s.status.Unsigned, "bad_signature", s.status.BadSignature,
				"invalid", s.status.Invalid, "future_epoch", s.status.FutureEpoch)
		}
		return t, false
	}
	if s.status.Cluster == "" {
		s.status.Cluster = t.Cluster
		s.log.Info("serving the cluster of the first table heard", "cluster", t.Cluster, "controller", t.Controller)
		if s.adopt != nil {
			if err := s.adopt(t.Cluster); err != nil {
				s.log.Error("cannot keep the cluster served; a restart will take the first cluster it hears", "cluster", t.Cluster, "err", err)
			}
		}
	}
	if t.Cluster != s.status.Cluster {
		s.status.Foreign++
		s.status.ForeignCluster = t.Cluster
		if now := s.now(); now.Sub(f.foreignLog) >= foreignLogEvery {
			f.foreignLog = now
			s.log.Warn("ignoring routing tables of another cluster: a controller with another data file publishes on this channel; check LONGSHOREMAN_DB on the controllers, or start this router with --cluster to serve that one",
				"serving", s.status.Cluster, "foreign_cluster", t.Cluster, "foreign_controller", t.Controller)
		}
		return t, false
	}
	// The Floor may be of another cluster than the one adopted (it was
	// kept while no cluster was): it orders only its own cluster's tables.
	if f.have && t.Cluster == f.last.Cluster && !t.Newer(f.last) {
		if f.last.Newer(t) {
			s.status.Older++
		}
		return t, false
	}
	if f.have && t.Cluster == f.last.Cluster && t.Controller != f.last.Controller {
		s.log.Info("routing table from another controller", "from", f.last.Controller, "to", t.Controller, "epoch", t.Epoch, "version", t.Version)
	}
	f.have, f.last = true, t
	return t, true
}

// Verdicts of check; accept is the empty string.
const (
	accept           = ""
	dropUnsigned     = "unsigned"
	dropBadSignature = "bad signature"
	dropInvalid      = "not a routing table"
	dropFutureEpoch  = "epoch more than a day ahead of this clock"
	// dropUnknownFormat: a signed table of a format above
	// cluster.TableFormatKnown.
	dropUnknownFormat = "format unknown to this router"
)

// check verifies and decodes a message.
func (s *Subscriber) check(msg []byte) (cluster.RoutingTable, string) {
	signed, err := Verify(msg, s.keys)
	switch {
	case errors.Is(err, ErrUnsigned):
		return cluster.RoutingTable{}, dropUnsigned
	case err != nil:
		return cluster.RoutingTable{}, dropBadSignature
	}
	t, err := Decode(signed)
	if err != nil || t.Cluster == "" {
		return cluster.RoutingTable{}, dropInvalid
	}
	if t.Epoch > uint64(s.now().Add(MaxEpochAhead).UnixNano()) {
		return cluster.RoutingTable{}, dropFutureEpoch
	}
	if t.Format > cluster.TableFormatKnown {
		return cluster.RoutingTable{Format: t.Format, Epoch: t.Epoch, Version: t.Version}, dropUnknownFormat
	}
	return t, accept
}

// requestSync asks the controller to publish the table at once. A failure
// only costs waiting for the next heartbeat, so it is logged, not retried.
func (s *Subscriber) requestSync(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := s.client.Publish(ctx, s.channel+SyncSuffix, s.name).Err(); err != nil && ctx.Err() == nil {
		s.log.Warn("sync request failed; waiting for the next heartbeat", "err", err)
	}
}
