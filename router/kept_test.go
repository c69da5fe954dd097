//go:build integration

package router_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/pubsub"
	"github.com/longshoreman/longshoreman/router"
)

// TestKeptTableServedWhileAllIsAway: a router keeps the last table it
// applied in its state directory (0600); restarted while Redis does not
// answer and the controller is gone, it serves that table over HTTP and,
// from its certificate cache, over HTTPS; a table of another cluster kept
// there is not served.
func TestKeptTableServedWhileAllIsAway(t *testing.T) {
	c := testRedis(t)
	ca, fc := certController(t, 2, "a.example.com")
	ba, _ := backend(t, "a")
	ch := "test.router.kept." + time.Now().Format("150405.000000")
	tp := publishTable(t, c, ch, cluster.RoutingTable{Version: 1, Epoch: 7, Controller: "c", Cluster: "k", Certs: 2,
		Routes: map[string][]string{"a.example.com": {ba}}})
	dir := t.TempDir()
	hr := runHTTPSRouter(t, router.RunConfig{Redis: pubsub.ClientOf(c), Channel: ch, Controller: fc.URL, RouterToken: "router-token", StateDir: dir})
	tp.change(func(t *cluster.RoutingTable) { // a new map: the publisher reads the old one
		t.Routes = map[string][]string{"a.example.com": {ba}, "b.example.com": {ba}}
	})
	kept := filepath.Join(dir, "table.json")
	testenv.Eventually(t, 10*time.Second, "version 2 kept", func() bool {
		var k cluster.RoutingTable
		b, err := os.ReadFile(kept)
		return err == nil && json.Unmarshal(b, &k) == nil && k.Version == 2
	})
	if fi, err := os.Stat(kept); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kept table: %v %v, want mode 0600", fi, err)
	}
	testenv.Eventually(t, 10*time.Second, "certificates cached", func() bool {
		_, err := os.Stat(filepath.Join(dir, "certs.json"))
		return err == nil
	})
	hr.stop()
	fc.Close()

	// Redis does not answer (nothing listens there), the controller is gone.
	away := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { away.Close() })
	hr = runHTTPSRouter(t, router.RunConfig{Redis: pubsub.ClientOf(away), Channel: ch, Controller: fc.URL, RouterToken: "router-token", StateDir: dir})
	for _, host := range []string{"a.example.com", "b.example.com"} {
		if s := do(t, "GET", hr.url+"/", host, "", nil).seen.Backend; s != "a" {
			t.Fatalf("GET http://%s/ reached %q from the kept table, want backend a", host, s)
		}
	}
	if resp, s := get(t, hr.client(ca, true), "GET", "https://a.example.com/", ""); s.Backend != "a" {
		t.Fatalf("HTTPS from the kept table and certificate cache: %s, backend %q", resp.Status, s.Backend)
	}
	hr.stop()

	// A table of another cluster is not served by a router of cluster k.
	other := cluster.RoutingTable{Version: 9, Cluster: "other", Routes: map[string][]string{"a.example.com": {ba}}}
	b, _ := json.Marshal(other)
	if err := os.WriteFile(kept, b, 0o600); err != nil {
		t.Fatal(err)
	}
	url, _ := runRouter(t, router.RunConfig{Redis: pubsub.ClientOf(away), Channel: ch, StateDir: dir})
	if r := do(t, "GET", url+"/", "a.example.com", "", nil); r.seen.Backend != "" {
		t.Fatalf("a kept table of another cluster was served: reached %q", r.seen.Backend)
	}
}
