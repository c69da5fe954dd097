//go:build integration

package integration

import (
	"bytes"
	"net/http"
	"path/filepath"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// TestMetricsAfterDeploy deploys through the controller binary, then parses
// GET /metrics and checks the named metrics and their values.
func TestMetricsAfterDeploy(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	c := StartController(t, filepath.Join(t.TempDir(), "ls.db"))
	c.AddHosts(t, hosts...)
	app := testenv.App(t, "metrics")
	c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":2}`)
	c.Call("GET", "/apps", "")
	req, _ := http.NewRequest("GET", c.URL+"/apps", nil)
	req.Header.Set("X-Auth", "wrong")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}

	_, b := c.CallRaw(t, "GET", "/metrics", "")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("metrics are not Prometheus text: %v", err)
	}
	value := func(name string, labels map[string]string) float64 {
		f, ok := families[name]
		if !ok {
			t.Fatalf("metric %s missing", name)
		}
		for _, m := range f.Metric {
			if matches(m, labels) {
				switch {
				case m.Counter != nil:
					return m.Counter.GetValue()
				case m.Gauge != nil:
					return m.Gauge.GetValue()
				case m.Histogram != nil:
					return float64(m.Histogram.GetSampleCount())
				}
			}
		}
		t.Fatalf("metric %s has no series with %v", name, labels)
		return 0
	}
	checks := []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"longshoreman_deploys_total", map[string]string{"outcome": "succeeded"}, 1},
		{"longshoreman_deploy_duration_seconds", nil, 1},
		{"longshoreman_instances", map[string]string{"app": app, "state": "routed"}, 2},
		{"longshoreman_hosts", map[string]string{"state": "up"}, float64(len(hosts))},
		{"longshoreman_http_request_duration_seconds", map[string]string{"route": "/apps/:app/deploy", "method": "POST", "status": "200"}, 1},
		{"longshoreman_http_request_duration_seconds", map[string]string{"route": "/apps", "method": "GET", "status": "200"}, 1},
		{"longshoreman_auth_failures_total", nil, 1},
		{"longshoreman_reconcile_pass_duration_seconds", nil, 1},
		{"longshoreman_routes_publish_errors_total", nil, 0},
		{"longshoreman_routes_published_total", nil, 0},
	}
	for _, c := range checks {
		if got := value(c.name, c.labels); got < c.min {
			t.Errorf("%s%v = %v, want at least %v", c.name, c.labels, got, c.min)
		}
	}
}

func matches(m *dto.Metric, labels map[string]string) bool {
	have := map[string]string{}
	for _, l := range m.Label {
		have[l.GetName()] = l.GetValue()
	}
	for k, v := range labels {
		if have[k] != v {
			return false
		}
	}
	return true
}
