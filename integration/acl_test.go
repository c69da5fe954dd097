//go:build integration

package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/command"

	"github.com/redis/go-redis/v9"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// TestRedisACLFromTheREADME sets up the README's ACL users on a real
// redis-server: the controller and a router work with them, and the router's
// user cannot publish on the routing channel nor run other commands.
func TestRedisACLFromTheREADME(t *testing.T) {
	t.Parallel()
	testenv.Redis(t)
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var acls [][]any
	for _, line := range strings.Split(string(readme), "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "ACL SETUSER longshoreman-") {
			line = strings.NewReplacer("ROUTER_PASSWORD", "router-pw-123", "CONTROLLER_PASSWORD", "controller-pw-123").Replace(line)
			var args []any
			for _, f := range strings.Fields(line) {
				args = append(args, f)
			}
			acls = append(acls, args)
		}
	}
	if len(acls) != 2 {
		t.Fatalf("README has %d ACL SETUSER lines, want 2", len(acls))
	}
	port := testenv.FreePort(t)
	cmd := exec.Command("redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	admin := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { admin.Close() })
	testenv.Eventually(t, 60*time.Second, "redis-server answers", func() bool { return admin.Ping(context.Background()).Err() == nil })
	for _, acl := range acls {
		if err := admin.Do(context.Background(), acl...).Err(); err != nil {
			t.Fatalf("%v: %v", acl, err)
		}
	}

	c := MustServe(t, t.TempDir()+"/ls.db", map[string]string{"REDIS_PORT": fmt.Sprint(port),
		"REDIS_USERNAME": "longshoreman-controller", "REDIS_PASSWORD": "controller-pw-123", "LONGSHOREMAN_ROUTES_KEY": testRoutesKey})
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	env := map[string]string{"REDIS_PORT": fmt.Sprint(port), "REDIS_USERNAME": "longshoreman-router", "REDIS_PASSWORD": "router-pw-123",
		"LONGSHOREMAN_ROUTES_KEY": testRoutesKey, "LONGSHOREMAN_LISTEN": listen, "LONGSHOREMAN_ROUTER_STATE": t.TempDir(),
		"LONGSHOREMAN_ROUTER_TOKEN": testRouterToken}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- (&command.RouterCommand{Stderr: io.Discard, Getenv: func(k string) string { return env[k] }}).Run(ctx, nil)
	}()
	t.Cleanup(func() { cancel(); <-done })
	r := &Router{URL: "http://" + listen}
	testenv.Eventually(t, 60*time.Second, "router listens", func() bool {
		conn, err := net.Dial("tcp", listen)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	// The router subscribed and asked on .sync; the controller answered.
	testenv.Eventually(t, 60*time.Second, "router has the controller's table", func() bool {
		st := r.Status(t)
		return st.Cluster == c.Store().ClusterID() && st.Epoch == c.Store().Epoch()
	})

	router := redis.NewClient(&redis.Options{Addr: addr, Username: "longshoreman-router", Password: "router-pw-123"})
	t.Cleanup(func() { router.Close() })
	bg := context.Background()
	if err := router.Publish(bg, "longshoreman.routes", "{}").Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("router user PUBLISH on the channel: %v, want NOPERM", err)
	}
	if err := router.Publish(bg, "longshoreman.routes.sync", "me").Err(); err != nil {
		t.Fatalf("router user PUBLISH on .sync: %v", err)
	}
	if err := router.Set(bg, "k", "v", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("router user SET: %v, want NOPERM", err)
	}
}
