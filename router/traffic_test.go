package router_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/router"
)

// statusBackend answers every request with the status its path names
// (/500: 500; anything else 200) and a body of 5 bytes.
func statusBackend(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/500" {
			w.WriteHeader(500)
		}
		_, _ = w.Write([]byte("hello"))
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func send(t *testing.T, c *http.Client, method, url, host string) int {
	t.Helper()
	var body *strings.Reader
	if method == "POST" {
		body = strings.NewReader("some body")
	} else {
		body = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, url, body)
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The router counts every request to an app of its table on the instance
// that answered it, on both of its paths (the loop's GETs, the proxy's
// POSTs), by class of answer, with the bytes and a latency bucket each;
// a summary holds what came since the previous one; the counts of an
// instance that left the table reach the next summary; an unknown host
// is not counted.
func TestTrafficCounts(t *testing.T) {
	one, two, gone := statusBackend(t), statusBackend(t), refusing(t)
	r := router.New(router.Config{Logger: testLogger()})
	r.Apply(cluster.RoutingTable{Version: 1, Controller: "c", Routes: map[string][]string{
		"a.example.com": {one, two}, "down.example.com": {gone}, "none.example.com": {}}})
	url := serveRouter(t, r)
	c := &http.Client{Timeout: 30 * time.Second}

	for i := range 10 {
		path := "/"
		if i%5 == 0 {
			path = "/500"
		}
		if got := send(t, c, "GET", url+path, "a.example.com"); got != 200 && got != 500 {
			t.Fatalf("GET %s: %d", path, got)
		}
	}
	for range 4 {
		if got := send(t, c, "POST", url+"/", "A.example.com"); got != 200 {
			t.Fatalf("POST: %d", got)
		}
	}
	if got := send(t, c, "GET", url+"/", "down.example.com"); got != 502 {
		t.Fatalf("an app whose instance refuses: %d, want 502", got)
	}
	if got := send(t, c, "GET", url+"/", "none.example.com"); got != 503 {
		t.Fatalf("an app without instances: %d, want 503", got)
	}
	if got := send(t, c, "GET", url+"/", "unknown.example.com"); got != 404 {
		t.Fatalf("an unknown app: %d, want 404", got)
	}

	s := r.Summary()
	if len(s.Apps) != 3 {
		t.Fatalf("summary of %d apps, want a, down and none: %+v", len(s.Apps), s.Apps)
	}
	a := s.Apps["a.example.com"]
	if a.Requests() != 14 || a.Answers[cluster.Class2xx] != 12 || a.Answers[cluster.Class5xx] != 2 || a.Errors() != 2 {
		t.Errorf("a.example.com: %d requests, answers %v; want 14, 12 2xx and 2 5xx", a.Requests(), a.Answers)
	}
	if a.Bytes != 14*5 {
		t.Errorf("a.example.com: %d bytes, want %d", a.Bytes, 14*5)
	}
	var inLatency uint64
	for _, n := range a.Latency {
		inLatency += n
	}
	if inLatency != 14 {
		t.Errorf("latency histogram holds %d requests, want 14: %v", inLatency, a.Latency)
	}
	if len(a.Instances) != 2 || a.Instances[one].Requests() != 7 || a.Instances[two].Requests() != 7 {
		t.Errorf("instances of a.example.com: %+v; want 7 requests on each (round-robin)", a.Instances)
	}
	if d := s.Apps["down.example.com"]; d.Requests() != 1 || d.Answers[cluster.Class502] != 1 || d.Instances[gone].Requests() != 1 {
		t.Errorf("down.example.com: %+v; want one 502 on its instance", d)
	}
	if n := s.Apps["none.example.com"]; n.Requests() != 1 || n.Errors() != 1 || len(n.Instances) != 0 {
		t.Errorf("none.example.com: %+v; want one 503 on the app", n)
	}
	if again := r.Summary(); len(again.Apps) != 0 {
		t.Errorf("a second summary repeats counts: %+v", again.Apps)
	}

	send(t, c, "GET", url+"/", "a.example.com")
	send(t, c, "GET", url+"/", "a.example.com")
	r.Apply(cluster.RoutingTable{Version: 2, Controller: "c", Routes: map[string][]string{"a.example.com": {one}}})
	s = r.Summary()
	if a := s.Apps["a.example.com"]; a.Requests() != 2 || a.Instances[one].Requests() != 1 || a.Instances[two].Requests() != 1 {
		t.Errorf("after an instance left the table: %+v; want its last request in the summary", a)
	}

	m := metricsText(t, r)
	for _, want := range []string{`longshoreman_router_requests_total{app="a.example.com",class="2xx"} 14`,
		`longshoreman_router_requests_total{app="a.example.com",class="5xx"} 2`,
		`longshoreman_router_request_duration_seconds_count{app="a.example.com"}`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, m)
		}
	}
	if strings.Contains(m, "unknown.example.com") {
		t.Errorf("metrics name a host not in the table:\n%s", m)
	}
}

// With NoTraffic the router counts nothing.
func TestTrafficOff(t *testing.T) {
	be := statusBackend(t)
	r := router.New(router.Config{Logger: testLogger(), NoTraffic: true})
	r.Apply(cluster.RoutingTable{Version: 1, Controller: "c", Routes: map[string][]string{"a.example.com": {be}}})
	url := serveRouter(t, r)
	if got := send(t, &http.Client{Timeout: 30 * time.Second}, "GET", url+"/", "a.example.com"); got != 200 {
		t.Fatalf("GET: %d", got)
	}
	if s := r.Summary(); len(s.Apps) != 0 {
		t.Errorf("counted with NoTraffic: %+v", s.Apps)
	}
}

// The sender numbers its summaries 1, 2, ... under its id and the cluster
// served, and sends none while nothing was counted or no cluster is served.
func TestTrafficSender(t *testing.T) {
	be := statusBackend(t)
	r := router.New(router.Config{Logger: testLogger()})
	r.Apply(cluster.RoutingTable{Version: 1, Controller: "c", Routes: map[string][]string{"a.example.com": {be}}})
	url := serveRouter(t, r)
	c := &http.Client{Timeout: 30 * time.Second}
	var sent []cluster.TrafficSummary
	cl := ""
	s := &router.TrafficSender{Router: r, ID: router.NewRouterID(), Cluster: func() string { return cl },
		Send: func(_ context.Context, s cluster.TrafficSummary) error { sent = append(sent, s); return nil }}
	send(t, c, "GET", url+"/", "a.example.com")
	s.SendOnce(context.Background())
	cl = "cluster-1"
	s.SendOnce(context.Background())
	s.SendOnce(context.Background())
	send(t, c, "GET", url+"/", "a.example.com")
	s.SendOnce(context.Background())
	if len(sent) != 2 {
		t.Fatalf("%d summaries sent, want 2 (none without a cluster, none without requests)", len(sent))
	}
	for i, got := range sent {
		if got.Sequence != uint64(i+1) || got.Router != s.ID || got.Cluster != "cluster-1" || got.Apps["a.example.com"].Requests() != 1 {
			t.Errorf("summary %d: %+v", i+1, got)
		}
	}
}

// A canary's instances are counted as the app's, per instance, and the
// last counts of one that left with an abort reach the next summary.
func TestTrafficCountsCanary(t *testing.T) {
	cur, can := statusBackend(t), statusBackend(t)
	r := router.New(router.Config{Logger: testLogger()})
	r.Apply(canaryTable(1, []string{cur}, []string{can}, 50))
	url := serveRouter(t, r)
	for i := range 20 { // clients on each side, by their cookie
		side := []string{"7-c", "7-s"}[i%2]
		if got := do(t, "GET", url+"/", "app.example.com", "", http.Header{"Cookie": {router.CanaryCookie + "=" + side}}); got.status != 200 {
			t.Fatalf("GET on side %s: %d", side, got.status)
		}
	}
	a := r.Summary().Apps["app.example.com"]
	if a.Requests() != 20 || a.Instances[cur].Requests() != 10 || a.Instances[can].Requests() != 10 {
		t.Fatalf("app with a canary at 50: %d requests, instances %+v; want 20, 10 on each", a.Requests(), a.Instances)
	}

	for _, side := range []string{"7-c", "7-s"} { // one request on each side, by the cookie
		do(t, "GET", url+"/", "app.example.com", "", http.Header{"Cookie": {router.CanaryCookie + "=" + side}})
	}
	r.Apply(cluster.RoutingTable{Version: 2, Controller: "c", Routes: map[string][]string{"app.example.com": {cur}}})
	a = r.Summary().Apps["app.example.com"]
	if a.Requests() != 2 || a.Instances[cur].Requests() != 1 || a.Instances[can].Requests() != 1 {
		t.Fatalf("after the canary was aborted: %+v; want its last request in the summary", a)
	}
}
