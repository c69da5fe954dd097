package pubsub

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/longshoreman/longshoreman/cluster"
)

// TableSource is where the publisher gets the table; the db package
// implements it.
type TableSource interface {
	// RoutingTable returns the current table. Its Version has already been
	// raised (and persisted) when the routes changed since the previous call.
	RoutingTable() (cluster.RoutingTable, error)
}

// PublisherConfig configures a Publisher. Client and Source are required.
type PublisherConfig struct {
	// Client is the Redis connection (NewClient). The publisher does not
	// close it.
	Client *Client
	// Channel is the PubSub channel; default cluster.DefaultChannel.
	Channel string
	// Source gives the table to publish.
	Source TableSource
	// Republish is the heartbeat interval; default cluster.DefaultRepublish.
	Republish time.Duration
	// Coalesce is the burst window: after a publish, further changes wait
	// until it has passed, so a burst costs at most two publishes. Default
	// DefaultCoalesce.
	Coalesce time.Duration
	// Logger receives failures and recoveries; default slog.Default().
	Logger *slog.Logger
	// Key signs every table (see Sign); routers drop unsigned tables, so
	// only tests of that leave it empty.
	Key []byte
}

// PublisherStatus is what /healthz and /metrics report about the publisher.
type PublisherStatus struct {
	Connected     bool      `json:"connected"`      // the last Redis operation succeeded
	LastError     string    `json:"last_error"`     // the last failure, kept after recovery
	Published     uint64    `json:"published"`      // tables published
	Errors        uint64    `json:"errors"`         // failed publishes and subscription failures
	LastVersion   uint64    `json:"last_version"`   // version of the last table published
	LastPublished time.Time `json:"last_published"` // zero until the first publish
	SyncRequests  uint64    `json:"sync_requests"`  // messages received on CHANNEL.sync
}

// Publisher publishes the routing table on a Redis channel. Changed, Status
// and Last are safe from any goroutine; Run is called once.
type Publisher struct {
	client    *redis.Client
	channel   string
	source    TableSource
	republish time.Duration
	coalesce  time.Duration
	log       *slog.Logger
	key       []byte

	changed   chan struct{} // buffered 1: a change is pending
	sync      chan struct{} // buffered 1: a router asked for the table
	reconnect chan struct{} // buffered 1: the sync subscription (re)connected

	mu     sync.Mutex // guards status and last
	status PublisherStatus
	last   cluster.RoutingTable
}

// NewPublisher returns a publisher; nothing talks to Redis until Run.
func NewPublisher(cfg PublisherConfig) *Publisher {
	p := &Publisher{
		client:    cfg.Client.rdb,
		channel:   cfg.Channel,
		source:    cfg.Source,
		republish: cfg.Republish,
		coalesce:  cfg.Coalesce,
		log:       cfg.Logger,
		key:       cfg.Key,
		changed:   make(chan struct{}, 1),
		sync:      make(chan struct{}, 1),
		reconnect: make(chan struct{}, 1),
	}
	if p.channel == "" {
		p.channel = cluster.DefaultChannel
	}
	if p.republish <= 0 {
		p.republish = cluster.DefaultRepublish
	}
	if p.coalesce <= 0 {
		p.coalesce = DefaultCoalesce
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.log = p.log.With("component", "publisher", "channel", p.channel)
	return p
}

// Changed tells the publisher that the routes changed; it publishes soon,
// coalescing bursts. It never blocks, whatever the state of Redis.
func (p *Publisher) Changed() { signal(p.changed) }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Status returns a snapshot of the publisher's health and counters.
func (p *Publisher) Status() PublisherStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// Last returns the last table taken from the source (published or not).
// Its maps are shared: callers must not modify them.
func (p *Publisher) Last() cluster.RoutingTable {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// Run publishes the table at once when Changed is called (coalesced), every
// Republish, when a message arrives on CHANNEL.sync, and after reconnecting
// to Redis. Failures are logged and retried with capped exponential backoff.
// Run returns nil when ctx ends.
func (p *Publisher) Run(ctx context.Context) error {
	if p.client == nil || p.source == nil {
		return errors.New("pubsub: PublisherConfig needs a Client and a Source")
	}
	var wg sync.WaitGroup
	wg.Go(func() { p.watchSync(ctx) })
	defer wg.Wait()

	var (
		want      = true // publish at start: routers may be waiting
		notBefore time.Time
		retry     backoff
		heartbeat = time.NewTimer(p.republish)
		wake      = time.NewTimer(time.Hour)
	)
	defer heartbeat.Stop()
	defer wake.Stop()
	for {
		if want {
			if wait := time.Until(notBefore); wait > 0 {
				wake.Reset(wait)
			} else if err := p.publish(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				d := retry.next()
				notBefore = time.Now().Add(d)
				wake.Reset(d)
				p.log.Warn("publish failed; will retry", "err", err, "retry_in", d)
			} else {
				if retry.d > 0 {
					p.log.Info("publishing again after Redis failures")
				}
				retry.reset()
				want = false
				notBefore = time.Now().Add(p.coalesce)
				heartbeat.Reset(p.republish)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.changed:
			want = true
		case <-p.sync:
			want = true
		case <-p.reconnect:
			// Redis is back: do not wait out the backoff.
			want, notBefore = true, time.Time{}
			retry.reset()
		case <-heartbeat.C:
			want = true
			heartbeat.Reset(p.republish)
		case <-wake.C:
		}
	}
}

// publish takes the table from the source and publishes it once.
func (p *Publisher) publish(ctx context.Context) error {
	t, err := p.source.RoutingTable()
	if err != nil {
		p.fail(err)
		return err
	}
	if t.Routes == nil {
		t.Routes = map[string][]string{}
	}
	p.mu.Lock()
	p.last = t
	p.mu.Unlock()
	msg, err := Encode(t)
	if err != nil {
		p.fail(err)
		return err
	}
	if len(p.key) > 0 {
		msg = Sign(msg, p.key)
	}
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := p.client.Publish(cctx, p.channel, msg).Err(); err != nil {
		if ctx.Err() == nil { // a shutdown is not a Redis failure
			p.fail(err)
		}
		return err
	}
	p.mu.Lock()
	p.status.Connected = true
	p.status.Published++
	p.status.LastVersion = t.Version
	p.status.LastPublished = time.Now()
	p.mu.Unlock()
	return nil
}

func (p *Publisher) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status.Connected = false
	p.status.LastError = err.Error()
	p.status.Errors++
}

// watchSync subscribes to CHANNEL.sync until ctx ends. It signals p.sync for
// every request and p.reconnect after every successful (re)subscribe, which
// is how the publisher learns that Redis is back.
func (p *Publisher) watchSync(ctx context.Context) {
	ch := p.channel + SyncSuffix
	w := watcher{
		client: p.client,
		log:    p.log,
		onSubscribed: func() {
			p.mu.Lock()
			p.status.Connected = true
			p.mu.Unlock()
			signal(p.reconnect)
		},
		onMessage: func(*redis.Message) {
			p.mu.Lock()
			p.status.SyncRequests++
			p.mu.Unlock()
			signal(p.sync)
		},
		onError: p.fail,
	}
	w.run(ctx, ch)
}

// RedisStatus says how the publisher's link to Redis is, for /healthz:
// "connected", "connecting" before the first attempt ended, or "not
// connected: " and the last failure.
func (p *Publisher) RedisStatus() string {
	st := p.Status()
	switch {
	case st.Connected:
		return "connected"
	case st.LastError == "":
		return "connecting"
	}
	return "not connected: " + st.LastError
}
