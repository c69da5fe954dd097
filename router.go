package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/pubsub"
	"github.com/longshoreman/longshoreman/router"
)

// RouterCommand runs an HTTP router fed by the routing table over Redis.
type RouterCommand struct {
	Stderr io.Writer
	Getenv func(string) string
}

// Run parses flags and runs the router until ctx ends.
func (c *RouterCommand) Run(ctx context.Context, args []string) error {
	get := c.Getenv
	env := &envReader{get: get}
	fs := flag.NewFlagSet("longshoreman router", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	port := fs.Int("port", env.Int("PORT", 80), "HTTP port to serve on (env PORT)")
	listen := fs.String("listen", get("LONGSHOREMAN_LISTEN"), "host:port to listen on; overrides --port (env LONGSHOREMAN_LISTEN)")
	redisAddr := fs.String("redis", net.JoinHostPort(envOr(get, "REDIS_HOST", "127.0.0.1"), envOr(get, "REDIS_PORT", "6379")), "Redis host:port (env REDIS_HOST, REDIS_PORT)")
	channel := fs.String("channel", envOr(get, "LONGSHOREMAN_CHANNEL", cluster.DefaultChannel), "Redis PubSub channel (env LONGSHOREMAN_CHANNEL)")
	logFormat := fs.String("log-format", envOr(get, "LONGSHOREMAN_LOG_FORMAT", "text"), "log format: text or json")
	stateDir := fs.String("state-dir", envOr(get, "LONGSHOREMAN_ROUTER_STATE", get("STATE_DIRECTORY")), "directory that keeps the cluster this router serves across restarts (env LONGSHOREMAN_ROUTER_STATE; default systemd's $STATE_DIRECTORY; empty: kept in memory only)")
	clusterID := fs.String("cluster", get("LONGSHOREMAN_ROUTER_CLUSTER"), "serve this cluster id from now on, replacing the one kept in --state-dir (env LONGSHOREMAN_ROUTER_CLUSTER)")
	limits := addRouterLimitFlags(fs, env)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Run an HTTP router: it proxies requests by their Host header to the app's instances,\nusing the routing table the controller publishes over Redis PubSub.\n\nUsage: longshoreman router [flags]\n\nFlags (each also read from the environment variable named):\n")
		fs.PrintDefaults()
	}
	if err := env.Err(); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := limits.check(); err != nil {
		return err
	}
	if get("LONGSHOREMAN_ROUTES_KEY") == "" {
		return fmt.Errorf("LONGSHOREMAN_ROUTES_KEY is not set: the router accepts only routing tables signed with the controller's routes key; print it with `longshoreman token --routes-key` on the controller's machine and set it in the router's environment (for systemd, in /etc/longshoreman/env)")
	}
	keys, err := pubsub.ParseKeys(get("LONGSHOREMAN_ROUTES_KEY"))
	if err != nil {
		return fmt.Errorf("LONGSHOREMAN_ROUTES_KEY: %v; print the controller's with `longshoreman token --routes-key`", err)
	}
	addr := *listen
	if addr == "" {
		addr = ":" + strconv.Itoa(*port)
	}
	logger := newLogger(c.Stderr, *logFormat)
	rdb := newRedisUserClient(*redisAddr, get("REDIS_USERNAME"), get("REDIS_PASSWORD"), get("REDIS_TLS") != "" && get("REDIS_TLS") != "0" && get("REDIS_TLS") != "false")
	defer rdb.Close()
	logger.Info("router starting", "addr", addr, "redis", *redisAddr, "channel", *channel, "state_dir", *stateDir)
	return limits.run(ctx, router.RunConfig{
		Addr: addr, Redis: rdb, Channel: *channel, Logger: logger,
		Keys: keys, StateDir: *stateDir, Cluster: *clusterID,
	})
}
