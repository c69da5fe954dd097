package http_test

import (
	"context"
	"encoding/json"
	nethttp "net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/http"
)

// countingStore is a data file that counts the reads /healthz makes of it.
type countingStore struct {
	*db.DB
	checks, hostReads atomic.Int64
}

func (c *countingStore) Check() error { c.checks.Add(1); return c.DB.Check() }

func (c *countingStore) Hosts() ([]cluster.Host, error) {
	c.hostReads.Add(1)
	return c.DB.Hosts()
}

// fakeHostHealth reports the host states it is set to, counting the asks.
type fakeHostHealth struct {
	mu     sync.Mutex
	status map[string]string
	asks   int
}

func (f *fakeHostHealth) HostStatus(context.Context) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asks++
	out := map[string]string{}
	for h, s := range f.status {
		out[h] = s
	}
	return out
}

func (f *fakeHostHealth) set(host, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[host] = status
}

func getHealthz(tb testing.TB, url string, token bool) (int, map[string]any) {
	tb.Helper()
	req, _ := nethttp.NewRequest("GET", url+"/healthz", nil)
	if token {
		req.Header.Set("X-Auth", testToken)
	}
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, out
}

// However many requests /healthz gets, with or without the token, it
// checks the store and asks for the hosts' states at most once per
// HealthEvery; its answer still follows a host that goes down.
func TestHealthzLooksAtMostOncePerInterval(t *testing.T) {
	t.Parallel()
	d, err := db.Open(filepath.Join(t.TempDir(), "longshoreman.db"), db.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	store := &countingStore{DB: d}
	hosts := &fakeHostHealth{status: map[string]string{"10.0.0.1": "ok", "10.0.0.2": "ok"}}
	const every = 200 * time.Millisecond
	srv := httptest.NewServer(http.NewServer(&http.Server{Store: store, Hosts: hosts, Token: testToken, HealthEvery: every}))
	defer srv.Close()

	start := time.Now()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 60 {
				if status, out := getHealthz(t, srv.URL, (w+i)%4 == 0); status != 200 || out["status"] != "ok" {
					t.Errorf("healthz = %d %v", status, out)
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	bound := int64(took/every) + 1
	hosts.mu.Lock()
	asks := hosts.asks
	hosts.mu.Unlock()
	t.Logf("960 requests in %s: %d store checks, %d host asks (bound %d)", took.Round(time.Millisecond), store.checks.Load(), asks, bound)
	if n := store.checks.Load(); n > bound || n == 0 {
		t.Errorf("960 requests in %s checked the store %d times; want 1 to %d (once per %s)", took, n, bound, every)
	}
	if int64(asks) > bound || store.hostReads.Load() != 0 {
		t.Errorf("960 requests in %s asked the hosts' states %d times and read the hosts %d times; want at most %d and none", took, asks, store.hostReads.Load(), bound)
	}

	hosts.set("10.0.0.2", "down: its Docker API has not answered since 2026-01-02T03:04:05Z")
	deadline := time.Now().Add(10 * every)
	for {
		_, out := getHealthz(t, srv.URL, true)
		if got, _ := out["hosts"].(map[string]any)["10.0.0.2"].(string); got != "ok" {
			if time.Since(deadline.Add(-10*every)) > 2*every {
				t.Errorf("the host's fall showed after %s; want within %s", time.Since(deadline.Add(-10*every)), 2*every)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthz still says %v %s after the host went down", out["hosts"], 10*every)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
