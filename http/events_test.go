package http_test

import (
	"bufio"
	"encoding/json"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/events"
	"github.com/longshoreman/longshoreman/http"
	"github.com/longshoreman/longshoreman/scheduler"
)

// eventsServer is the API with an event bus, over a real data file.
func eventsServer(t *testing.T) (*httptest.Server, *events.Bus, *db.DB) {
	t.Helper()
	bus := events.New(0, 0)
	s := openServer(t, serverSetup{scheduler: scheduler.Config{Events: bus.Publish}, configure: func(a *http.Server) { a.Events = bus }})
	t.Cleanup(bus.Close) // first, so that open streams end before the server waits for them
	return s.Server, bus, s.DB
}

func openEvents(t *testing.T, url string, header map[string]string) *nethttp.Response {
	t.Helper()
	req, _ := nethttp.NewRequest("GET", url, nil)
	req.Header.Set("X-Auth", testToken)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// readSSE returns the next n events' id, type and decoded data.
func readSSE(t *testing.T, sc *bufio.Scanner, n int) (ids, types []string, evs []cluster.Event) {
	t.Helper()
	var id, typ string
	for len(evs) < n && sc.Scan() {
		field, value, _ := strings.Cut(sc.Text(), ": ")
		switch field {
		case "id":
			id = value
		case "event":
			typ = value
		case "data":
			var e cluster.Event
			if err := json.Unmarshal([]byte(value), &e); err != nil {
				t.Fatalf("data %q: %v", value, err)
			}
			ids, types, evs = append(ids, id), append(types, typ), append(evs, e)
		}
	}
	if len(evs) < n {
		t.Fatalf("read %d events, want %d (%v)", len(evs), n, sc.Err())
	}
	return ids, types, evs
}

// A deploy that cannot run (no host) is streamed as it happens: its steps
// and its failed revision, in the SSE framing, with the app filter and
// resuming after an event id.
func TestEventsStream(t *testing.T) {
	srv, bus, _ := eventsServer(t)
	resp := openEvents(t, srv.URL+"/events?app=a.example.com", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /events = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	deadline := time.Now().Add(10 * time.Second)
	for bus.Subscribers() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	bus.Publish(cluster.Event{Type: cluster.EventDeploy, Step: "revision", App: "other.example.com"})
	if status, _ := send(t, srv.URL, testToken, "POST", "/apps/a.example.com/deploy", `{"image":"img:1"}`); status == 200 {
		t.Fatal("a deploy without hosts succeeded")
	}
	sc := bufio.NewScanner(resp.Body)
	ids, types, evs := readSSE(t, sc, 3)
	want := []string{"deploy/revision", "deploy/failed", "revision/failed"}
	for i, e := range evs {
		if got := e.Type + "/" + e.Step; got != want[i] || types[i] != e.Type || e.App != "a.example.com" || e.Revision != 1 {
			t.Fatalf("event %d: %s %+v, want %s of a.example.com r1", i, types[i], e, want[i])
		}
	}
	if !strings.Contains(evs[2].Message, "host") {
		t.Errorf("the failed revision's event does not say why: %q", evs[2].Message)
	}

	// Resuming after the first event sends the kept ones after it.
	resumed := openEvents(t, srv.URL+"/events?app=a.example.com", map[string]string{"Last-Event-ID": ids[0]})
	rids, _, _ := readSSE(t, bufio.NewScanner(resumed.Body), 2)
	if rids[0] != ids[1] || rids[1] != ids[2] {
		t.Fatalf("resumed after %s: ids %v, want %v", ids[0], rids, ids[1:])
	}

	for _, c := range []struct{ query, header, want string }{
		{"?app=Not_An_App", "", "Not_An_App"},
		{"", "nope", "Last-Event-ID"},
	} {
		h := map[string]string{}
		if c.header != "" {
			h["Last-Event-ID"] = c.header
		}
		bad := openEvents(t, srv.URL+"/events"+c.query, h)
		var body map[string]any
		json.NewDecoder(bad.Body).Decode(&body)
		if bad.StatusCode != 400 || !strings.Contains(body["error"].(string), c.want) {
			t.Errorf("GET /events%s (Last-Event-ID %q) = %d %v, want 400 naming %s", c.query, c.header, bad.StatusCode, body, c.want)
		}
	}
}

// GET /overview sums the cluster up: hosts with their state, apps with
// their health, state and last deploy.
func TestOverview(t *testing.T) {
	srv, _, d := eventsServer(t)
	if _, err := d.AddHost("127.0.0.9"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateApp("b.example.com"); err != nil {
		t.Fatal(err)
	}
	resp := openEvents(t, srv.URL+"/overview", nil)
	var o http.OverviewResponse
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /overview = %d %v", resp.StatusCode, err)
	}
	if len(o.Hosts) != 1 || o.Hosts[0].Addr != "127.0.0.9" || o.Hosts[0].Status != "not checked yet" || o.Hosts[0].Instances != 0 {
		t.Errorf("hosts: %+v", o.Hosts)
	}
	if len(o.Apps) != 1 || o.Apps[0].App != "b.example.com" || o.Apps[0].State != "new" || o.Apps[0].Last != nil || o.Apps[0].Instances == nil {
		t.Errorf("apps: %+v", o.Apps)
	}
}
