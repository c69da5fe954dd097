package pubsub

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// pingEvery is how long a subscription may stay silent before it is pinged;
// a connection that answers nothing for twice that long is replaced, which
// catches a Redis that vanished without closing the socket.
const pingEvery = 5 * time.Second

// watcher keeps one channel subscribed across Redis failures and reports
// what happens on it. Both the publisher (CHANNEL.sync) and the subscriber
// (CHANNEL) use it. The callbacks run on the watcher's goroutine.
type watcher struct {
	client       *redis.Client
	log          *slog.Logger
	onSubscribed func()               // after every successful (re)subscribe
	onMessage    func(*redis.Message) // for every message on the channel
	onError      func(error)          // for every failure; the watcher retries
}

// run subscribes to channel and reports events until ctx ends.
func (w *watcher) run(ctx context.Context, channel string) {
	var mu sync.Mutex // guards ps, which the AfterFunc closes to unblock a read
	ps := w.client.Subscribe(ctx, channel)
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		_ = ps.Close()
	})
	defer func() {
		if stop() {
			_ = ps.Close()
		}
	}()

	var (
		retry     backoff
		lastHeard = time.Now()
		down      bool
	)
	for ctx.Err() == nil {
		mu.Lock()
		cur := ps
		mu.Unlock()
		msg, err := cur.ReceiveTimeout(ctx, pingEvery)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !down {
				if time.Since(lastHeard) < 2*pingEvery {
					pctx, cancel := context.WithTimeout(ctx, opTimeout)
					err = cur.Ping(pctx)
					cancel()
					if err == nil {
						continue
					}
				} else {
					err = errors.New("redis answered nothing, not even a ping, for " + time.Since(lastHeard).Round(time.Second).String())
				}
				// Replace the connection: it is silent or broken.
				mu.Lock()
				_ = ps.Close()
				ps = w.client.Subscribe(ctx, channel)
				mu.Unlock()
			}
			if !down {
				w.log.Warn("redis subscription lost; retrying", "channel", channel, "err", err)
			}
			down = true
			w.onError(err)
			if !sleep(ctx.Done(), retry.next()) {
				return
			}
			continue
		}
		lastHeard = time.Now()
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				if down {
					w.log.Info("redis subscription restored", "channel", channel)
				}
				down = false
				retry.reset()
				w.onSubscribed()
			}
		case *redis.Message:
			w.onMessage(m)
		}
	}
}
