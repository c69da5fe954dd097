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
	Client *redis.Client
	// Channel is the PubSub channel; default cluster.DefaultChannel.
	Channel string
	// Logger receives failures and recoveries; default slog.Default().
	Logger *slog.Logger
	// Name identifies this router in its sync requests; default
	// hostname:pid.
	Name string
}

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
}

// Subscriber receives routing tables. Status is safe from any goroutine; Run
// is called once.
type Subscriber struct {
	client  *redis.Client
	channel string
	log     *slog.Logger
	name    string

	mu     sync.Mutex // guards status
	status SubscriberStatus
}

// NewSubscriber returns a subscriber; nothing talks to Redis until Run.
func NewSubscriber(cfg SubscriberConfig) *Subscriber {
	s := &Subscriber{client: cfg.Client, channel: cfg.Channel, log: cfg.Logger, name: cfg.Name}
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
// every (re)subscribe, and calls apply, on Run's goroutine, for each table
// whose Version is higher than the last applied one or whose Controller
// differs. Messages that are not a table are logged and dropped. Redis
// failures are logged and retried with capped exponential backoff. Run
// returns nil when ctx ends.
func (s *Subscriber) Run(ctx context.Context, apply func(cluster.RoutingTable)) error {
	if s.client == nil || apply == nil {
		return errors.New("pubsub: a Subscriber needs a Client and an apply function")
	}
	var (
		have       bool
		version    uint64
		controller string
	)
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
			t, err := Decode([]byte(m.Payload))
			s.mu.Lock()
			s.status.Received++
			if err != nil {
				s.status.Invalid++
			}
			s.mu.Unlock()
			if err != nil {
				s.log.Warn("ignoring a message that is not a routing table", "err", err, "size", len(m.Payload))
				return
			}
			if have && t.Version <= version && t.Controller == controller {
				return
			}
			if have && t.Controller != controller {
				s.log.Info("routing table from another controller", "from", controller, "to", t.Controller, "version", t.Version)
			}
			have, version, controller = true, t.Version, t.Controller
			apply(t)
			s.mu.Lock()
			s.status.Applied++
			s.status.Version = t.Version
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

// requestSync asks the controller to publish the table at once. A failure
// only costs waiting for the next heartbeat, so it is logged, not retried.
func (s *Subscriber) requestSync(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := s.client.Publish(ctx, s.channel+SyncSuffix, s.name).Err(); err != nil && ctx.Err() == nil {
		s.log.Warn("sync request failed; waiting for the next heartbeat", "err", err)
	}
}
