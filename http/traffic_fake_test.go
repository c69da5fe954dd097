package http_test

import (
	nethttp "net/http"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/http"
)

// fakeTraffic answers fixed figures and records what it was asked.
type fakeTraffic struct {
	app       string
	since     time.Duration
	instances bool
}

func (f *fakeTraffic) Figures(app string, since time.Duration, instances bool) cluster.TrafficFigures {
	f.app, f.since, f.instances = app, since, instances
	return cluster.TrafficFigures{Since: cluster.Duration(since), Requests: 10, Errors: 1, ErrorRate: 0.1, P99: 12.5}
}

func openTrafficServer(t *testing.T, src http.TrafficSource) *TestServer {
	t.Helper()
	return openServer(t, serverSetup{configure: func(s *http.Server) { s.Traffic = src }})
}

// GET /apps/:app/traffic answers the source's figures for the span asked
// (default 1h), per instance when asked; bad parameters get 400, an
// unknown app 404, a controller without a source 503.
func TestTrafficEndpoint(t *testing.T) {
	f := &fakeTraffic{}
	s := openTrafficServer(t, f)
	s.MustOK(t, "POST", "/apps", `{"app":"a.example.com"}`)
	out := s.MustOK(t, "GET", "/apps/a.example.com/traffic", "")
	if out["app"] != "a.example.com" || out["requests"] != 10.0 || out["error_rate"] != 0.1 || out["p99"] != 12.5 || f.since != time.Hour || f.instances {
		t.Errorf("default: %v (asked %s, instances %v)", out, f.since, f.instances)
	}
	s.MustOK(t, "GET", "/apps/a.example.com/traffic?since=10m&instances=true", "")
	if f.app != "a.example.com" || f.since != 10*time.Minute || !f.instances {
		t.Errorf("asked %s for %s, instances %v", f.app, f.since, f.instances)
	}
	for _, q := range []string{"since=2d", "since=25h", "since=-1h", "since=0s", "instances=maybe"} {
		if status, out := s.Do(t, "GET", "/apps/a.example.com/traffic?"+q, ""); status != nethttp.StatusBadRequest {
			t.Errorf("%s: %d %v, want 400", q, status, out)
		}
	}
	if status, _ := s.Do(t, "GET", "/apps/nope.example.com/traffic", ""); status != nethttp.StatusNotFound {
		t.Errorf("an unknown app: %d, want 404", status)
	}
	none := openTrafficServer(t, nil)
	none.MustOK(t, "POST", "/apps", `{"app":"a.example.com"}`)
	if status, _ := none.Do(t, "GET", "/apps/a.example.com/traffic", ""); status != nethttp.StatusServiceUnavailable {
		t.Errorf("without a traffic source: %d, want 503", status)
	}
}
