//go:build integration

package router_test

import (
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// Maintenance travels in the signed table over real Redis: the router
// answers the app with its page, still answers ACME challenges for it, and
// proxies it again once a table without maintenance arrives.
func TestMaintenanceFromSignedTable(t *testing.T) {
	t.Parallel()
	c := testRedis(t)
	b1, hits := backend(t, "b1")
	ch := "test.router.maintenance." + testenv.UniqueApp(t, "m")
	tp := publishTable(t, c, ch, cluster.RoutingTable{Version: 1, Controller: "c", Cluster: "k",
		Routes:      map[string][]string{"a.example.com": {b1}},
		Maintenance: map[string]cluster.MaintenanceRoute{"a.example.com": {Message: "Moving to a bigger database."}},
		Challenges:  map[string]string{"tok1": "tok1.thumbprint"}})
	url, r, _ := startRouter(t, c, ch)
	testenv.Eventually(t, 10*time.Second, "table applied", func() bool { return r.Table().Version == 1 })

	if a := do(t, "GET", url+"/", "a.example.com", "", nil); a.status != 503 || !strings.Contains(a.body, "Moving to a bigger database.") {
		t.Fatalf("in maintenance: %d %q", a.status, a.body)
	}
	if a := do(t, "GET", url+"/.well-known/acme-challenge/tok1", "a.example.com", "", nil); a.status != 200 || a.body != "tok1.thumbprint" {
		t.Fatalf("ACME challenge in maintenance: %d %q", a.status, a.body)
	}
	if hits.Load() != 0 {
		t.Fatalf("the instance was reached %d times in maintenance", hits.Load())
	}
	tp.change(func(t *cluster.RoutingTable) { t.Maintenance = nil })
	testenv.Eventually(t, 10*time.Second, "table without maintenance applied", func() bool { return r.Table().Version == 2 })
	if a := do(t, "GET", url+"/", "a.example.com", "", nil); a.status != 200 || a.seen.Backend != "b1" {
		t.Fatalf("after maintenance: %d %q", a.status, a.body)
	}
}
