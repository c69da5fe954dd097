package pubsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/longshoreman/longshoreman/cluster"
)

// TrafficSuffix is appended to the routing-table channel to form the
// channel the routers send their traffic summaries on
// (cluster.TrafficSummary; docs/routing.md). They are signed as the tables
// are, with the first routes key, and the controllers verify them.
const TrafficSuffix = ".traffic"

// TrafficSender publishes a router's traffic summaries.
type TrafficSender struct {
	client  *redis.Client
	channel string
	key     []byte
	log     *slog.Logger

	mu      sync.Mutex // guards lastLog
	lastLog time.Time
}

// NewTrafficSender returns a sender on channel+TrafficSuffix (channel
// empty: cluster.DefaultChannel's) signing with key.
func NewTrafficSender(c *Client, channel string, key []byte, log *slog.Logger) *TrafficSender {
	if channel == "" {
		channel = cluster.DefaultChannel
	}
	if log == nil {
		log = slog.Default()
	}
	return &TrafficSender{client: c.rdb, channel: channel + TrafficSuffix, key: key, log: log.With("component", "traffic")}
}

// EncodeTraffic returns the signed wire form of s.
func EncodeTraffic(s cluster.TrafficSummary, key []byte) ([]byte, error) {
	msg, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return Sign(msg, key), nil
}

// Send publishes s. A failure is logged (at most once a minute) and
// returned; the summary is not sent again.
func (t *TrafficSender) Send(ctx context.Context, s cluster.TrafficSummary) error {
	msg, err := EncodeTraffic(s, t.key)
	if err == nil {
		cctx, cancel := context.WithTimeout(ctx, opTimeout)
		err = t.client.Publish(cctx, t.channel, msg).Err()
		cancel()
	}
	if err != nil && ctx.Err() == nil {
		t.mu.Lock()
		if time.Since(t.lastLog) >= time.Minute {
			t.lastLog = time.Now()
			t.log.Warn("a traffic summary could not be sent to the controllers; its counts are lost (the router's own metrics keep them)", "err", err)
		}
		t.mu.Unlock()
	}
	return err
}

// ErrForeignTraffic: a validly signed summary of another cluster.
var ErrForeignTraffic = errors.New("summary of another cluster")

// DecodeTraffic verifies msg's signature against keys and decodes the
// summary, which must be of cluster clusterID. It returns ErrUnsigned or
// ErrBadSignature for a message not signed with one of the keys.
func DecodeTraffic(msg []byte, keys [][]byte, clusterID string) (cluster.TrafficSummary, error) {
	signed, err := Verify(msg, keys)
	if err != nil {
		return cluster.TrafficSummary{}, err
	}
	var s cluster.TrafficSummary
	if err := json.Unmarshal(signed, &s); err != nil {
		return cluster.TrafficSummary{}, fmt.Errorf("not a traffic summary: %w", err)
	}
	if s.Router == "" || s.Sequence == 0 {
		return cluster.TrafficSummary{}, errors.New("not a traffic summary: no router id or sequence number")
	}
	if s.Cluster != clusterID {
		return cluster.TrafficSummary{}, ErrForeignTraffic
	}
	return s, nil
}

// TrafficReceiverConfig configures a TrafficReceiver. Client and Keys are
// required.
type TrafficReceiverConfig struct {
	Client  *Client
	Channel string // the routing-table channel; default cluster.DefaultChannel
	Keys    [][]byte
	Cluster string // the controller's cluster id: other clusters' summaries are dropped
	Logger  *slog.Logger
}

// TrafficReceiverStatus counts what a TrafficReceiver heard.
type TrafficReceiverStatus struct {
	Received uint64 `json:"received"` // summaries taken
	Dropped  uint64 `json:"dropped"`  // messages unsigned, badly signed, invalid or of another cluster
}

// TrafficReceiver hears the routers' traffic summaries on the controller.
type TrafficReceiver struct {
	client  *redis.Client
	channel string
	keys    [][]byte
	cluster string
	log     *slog.Logger

	mu      sync.Mutex // guards status and lastLog
	status  TrafficReceiverStatus
	lastLog time.Time
}

// NewTrafficReceiver returns a receiver; nothing talks to Redis until Run.
func NewTrafficReceiver(cfg TrafficReceiverConfig) *TrafficReceiver {
	ch := cfg.Channel
	if ch == "" {
		ch = cluster.DefaultChannel
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &TrafficReceiver{client: cfg.Client.rdb, channel: ch + TrafficSuffix, keys: cfg.Keys, cluster: cfg.Cluster,
		log: log.With("component", "traffic", "channel", ch+TrafficSuffix)}
}

// Status returns the receiver's counts.
func (t *TrafficReceiver) Status() TrafficReceiverStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status
}

// Run subscribes and calls take, on Run's goroutine, with every validly
// signed summary of the cluster, until ctx ends. Redis failures are logged
// and retried as the subscriber's are.
func (t *TrafficReceiver) Run(ctx context.Context, take func(cluster.TrafficSummary)) {
	w := watcher{
		client:       t.client,
		log:          t.log,
		onSubscribed: func() {},
		onMessage: func(m *redis.Message) {
			s, err := DecodeTraffic([]byte(m.Payload), t.keys, t.cluster)
			t.mu.Lock()
			if err != nil {
				t.status.Dropped++
				if now := time.Now(); now.Sub(t.lastLog) >= dropLogEvery {
					t.lastLog = now
					t.log.Warn("dropping messages on the traffic channel that are not summaries of this cluster signed with our routes key: check LONGSHOREMAN_ROUTES_KEY on the routers",
						"err", err, "dropped", t.status.Dropped)
				}
				t.mu.Unlock()
				return
			}
			t.status.Received++
			t.mu.Unlock()
			take(s)
		},
		onError: func(error) {},
	}
	w.run(ctx, t.channel)
}
