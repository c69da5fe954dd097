package pubsub

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client is the connection to the Redis server that carries the routing
// table: one server, or the master a set of Sentinels names, followed
// across their failovers. Publishers and subscribers share one; it is safe
// for concurrent use. This package is the only one of the project that
// speaks to Redis, so Client is the way in for the rest.
type Client struct {
	rdb *redis.Client
}

// Options say where Redis is and how to reach it.
type Options struct {
	Addr     string // host:port of the server; unused with Sentinels
	Username string // a Redis ACL user; empty: the default user
	Password string
	TLS      bool // TLS with the system's CA roots, to the server and the Sentinels

	// Sentinels (host:port each), when set, replace Addr: the master
	// named Master is asked of them, and followed when they fail it over.
	Sentinels []string
	Master    string
}

// NewClient returns a client of the Redis o names, with short timeouts: a
// Redis that does not answer must never hold anything up (every call fails
// within 2 s and is retried by its caller's own loop). It does not connect
// until used. With Sentinels it is go-redis's failover client: every new
// connection goes to the master the Sentinels name, and connections to a
// master they replaced are closed, so a subscription that breaks at a
// failover reconnects to the new master.
func NewClient(o Options) *Client {
	if len(o.Sentinels) > 0 {
		opts := &redis.FailoverOptions{
			MasterName: strings.TrimSpace(o.Master), SentinelAddrs: o.Sentinels,
			Username: o.Username, Password: o.Password,
			DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
			MaxRetries: -1,
		}
		if o.TLS {
			// No ServerName: crypto/tls takes each address's host, the
			// Sentinels' and whichever master they name alike.
			opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		return &Client{rdb: redis.NewFailoverClient(opts)}
	}
	opts := &redis.Options{
		Addr: o.Addr, Username: o.Username, Password: o.Password,
		DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
		MaxRetries: -1,
	}
	if o.TLS {
		host, _, _ := net.SplitHostPort(o.Addr)
		opts.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	return &Client{rdb: redis.NewClient(opts)}
}

// ClientOf wraps a go-redis client, for tests and tools that also speak to
// Redis directly (publishing forged messages, reading the channel raw).
func ClientOf(r *redis.Client) *Client { return &Client{rdb: r} }

// Ping reports whether Redis answers.
func (c *Client) Ping(ctx context.Context) error { return c.rdb.Ping(ctx).Err() }

// Close closes the connections; the publishers and subscribers using c
// must have returned.
func (c *Client) Close() error { return c.rdb.Close() }

func init() {
	// go-redis logs every failed dial on its own; the publisher and the
	// subscriber already report Redis being away, with backoff.
	redis.SetLogger(quietLogger{})
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}
