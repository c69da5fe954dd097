//go:build integration

package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// etcdRanges sums, over the members of an etcd cluster, the Range calls
// (reads) each has served, from its own metrics (grpc_server_handled_total).
func etcdRanges(t *testing.T, endpoints []string) int64 {
	t.Helper()
	var total int64
	for _, ep := range endpoints {
		resp, err := http.Get("http://" + ep + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "grpc_server_handled_total{") || !strings.Contains(line, `grpc_method="Range"`) {
				continue
			}
			n, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err != nil {
				t.Fatalf("etcd metric %q: %v", line, err)
			}
			total += int64(n)
		}
		resp.Body.Close()
	}
	return total
}

// healthzHosts returns the hosts of /healthz as a client with the token
// gets them.
func healthzHosts(t *testing.T, c *Controller) map[string]string {
	t.Helper()
	out := map[string]string{}
	_, body := c.Call("GET", "/healthz", "")
	hosts, _ := body["hosts"].(map[string]any)
	for h, s := range hosts {
		out[h], _ = s.(string)
	}
	return out
}

// TestHealthzSparesEtcd runs the controller binary on a private etcd
// cluster and sends it thousands of unauthenticated /healthz requests:
// etcd serves no more reads meanwhile than when nobody asks (the answer is
// computed at most once a second, from the reconciler's view and one
// store check, and shared). With the token, the answer still shows a host
// going down (the fault host cut off with iptables) within seconds.
func TestHealthzSparesEtcd(t *testing.T) {
	ec := testenv.StartEtcd(t)
	c := StartController(t, "etcd://"+strings.Join(ec.Endpoints, ",")+"/longshoreman-healthz")
	fault := testenv.FaultHost(t)
	c.AddHosts(t, append(testenv.Hosts(t), fault)...)
	testenv.Eventually(t, 30*time.Second, "every host ok in /healthz", func() bool {
		hosts := healthzHosts(t, c)
		for _, h := range append(testenv.Hosts(t), fault) {
			if hosts[h] != "ok" {
				return false
			}
		}
		return true
	})

	// What the controller reads from etcd on its own (reconcile passes,
	// 500ms apart, and what a loaded machine adds to them) is measured
	// while a page of the dashboard, which reads no store, is asked for as
	// hard and at least as long: the same load, without /healthz.
	const requests = 4000
	burst := func(path string, more func(sent int64, since time.Time) bool, answered func(*http.Response) error) (took time.Duration, reads int64) {
		before := etcdRanges(t, ec.Endpoints)
		start := time.Now()
		var sent atomic.Int64
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for more(sent.Add(1), start) {
					resp, err := http.Get(c.URL + path)
					if err != nil {
						t.Error(err)
						return
					}
					err = answered(resp)
					resp.Body.Close()
					if err != nil {
						t.Errorf("unauthenticated GET %s: %v", path, err)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start), etcdRanges(t, ec.Endpoints) - before
	}
	took, during := burst("/healthz", func(sent int64, _ time.Time) bool { return sent <= requests }, func(resp *http.Response) error {
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != 200 || out["status"] != "ok" || len(out) != 1 {
			return fmt.Errorf("answered %d %v; want 200 {status: ok}", resp.StatusCode, out)
		}
		return nil
	})
	quietTook, quiet := burst("/ui", func(sent int64, start time.Time) bool { return sent <= requests || time.Since(start) < took }, func(resp *http.Response) error {
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			return fmt.Errorf("answered %d; want the dashboard's page", resp.StatusCode)
		}
		return nil
	})
	// At most two reads (the store check and the host list) per second of
	// the burst beyond what the controller reads anyway, with room for a
	// pass more or less.
	bound := quiet + 2*int64(max(took, quietTook)/time.Second+1) + 20
	t.Logf("%d unauthenticated /healthz in %s: etcd served %d reads; %d in %s of /ui; bound %d", requests, took.Round(time.Millisecond), during, quiet, quietTook.Round(time.Millisecond), bound)
	if during > bound {
		t.Errorf("%d /healthz requests cost etcd %d reads (%d in %s of /ui); want at most %d", requests, during, quiet, quietTook.Round(time.Millisecond), bound)
	}

	cutAt := time.Now()
	restore := testenv.DropHost(t, fault)
	defer restore()
	testenv.Eventually(t, 30*time.Second, "/healthz showing the fault host not answering", func() bool {
		return strings.Contains(healthzHosts(t, c)[fault], "not answering") || strings.Contains(healthzHosts(t, c)[fault], "down")
	})
	t.Logf("the host cut off shows in /healthz after %s", time.Since(cutAt).Round(time.Millisecond))
	restore()
	testenv.Eventually(t, 30*time.Second, "/healthz showing the fault host ok again", func() bool { return healthzHosts(t, c)[fault] == "ok" })
}
