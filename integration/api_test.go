package integration

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/command"

	"github.com/longshoreman/longshoreman/cluster"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricSeries returns every series in GET /metrics as name{labels}, without
// values: what the registry keeps in memory.
func metricSeries(t *testing.T, c *command.ServeCommand) []string {
	t.Helper()
	status, b := call(t, c, "GET", "/metrics", "")
	if status != 200 {
		t.Fatalf("GET /metrics = %d %s", status, b)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("metrics are not Prometheus text: %v", err)
	}
	var out []string
	for name, f := range families {
		for _, m := range f.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			out = append(out, name+"{"+strings.Join(labels, ",")+"}")
		}
	}
	sort.Strings(out)
	return out
}

// TestMetricsSeriesBoundedForRefusedRequests sends 10,000 requests with
// made-up methods and paths and no token, then with the token, and checks
// that the refused ones add no series and the accepted ones only the fixed
// "other" and "unmatched" labels.
func TestMetricsSeriesBoundedForRefusedRequests(t *testing.T) {
	t.Parallel()
	c := MustServe(t, filepath.Join(t.TempDir(), "ls.db"), nil)
	metricSeries(t, c) // the first scrape adds its own route's series
	before := metricSeries(t, c)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	send := func(i int, token string) int {
		req, err := http.NewRequest(fmt.Sprintf("M%dX", i), fmt.Sprintf("%s/made-up-%d/path%d", c.URL(), i, i*7), nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("X-Auth", token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 10000 {
		if status := send(i, ""); status != http.StatusUnauthorized {
			t.Fatalf("request %d without a token = %d, want 401", i, status)
		}
	}
	after := metricSeries(t, c)
	if strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Fatalf("10,000 refused requests changed the series from %d to %d:\n%s", len(before), len(after), diff(before, after))
	}
	if !strings.Contains(strings.Join(after, "\n"), "longshoreman_auth_failures_total{}") {
		t.Fatalf("no longshoreman_auth_failures_total series")
	}

	for i := range 1000 {
		if status := send(i, "t0ken-0123456789"); status != http.StatusNotFound {
			t.Fatalf("request %d with a token = %d, want 404", i, status)
		}
	}
	added := diff(after, metricSeries(t, c))
	for _, s := range strings.Split(added, "\n") {
		if s != "" && !strings.Contains(s, "method=other,route=unmatched,status=404") {
			t.Errorf("made-up methods with a token added the series %s", s)
		}
	}
}

// diff returns the series in b that are not in a, one a line.
func diff(a, b []string) string {
	have := map[string]bool{}
	for _, s := range a {
		have[s] = true
	}
	var out []string
	for _, s := range b {
		if !have[s] {
			out = append(out, s)
		}
	}
	return strings.Join(out, "\n")
}

// TestHistoryAndEnvLimits runs the controller with LONGSHOREMAN_HISTORY=5
// and no hosts, so that every deploy fails after storing its revision, and
// checks that only 5 revisions remain; then it sends envs over the limits
// and with control characters, and JSON sent as a form.
func TestHistoryAndEnvLimits(t *testing.T) {
	t.Parallel()
	c := MustServe(t, filepath.Join(t.TempDir(), "ls.db"), map[string]string{"LONGSHOREMAN_HISTORY": "5"})
	const app = "/hist.example.com"
	for i := range 12 {
		status, b := call(t, c, "POST", app+"/deploy", `{"image":"nginx:1"}`)
		if status == 200 {
			t.Fatalf("deploy %d without hosts succeeded: %s", i, b)
		}
	}
	out := mustCall(t, c, "GET", app+"/history", "")
	revs, _ := out["history"].([]any)
	if len(revs) != 5 {
		t.Fatalf("history after 12 deploys with LONGSHOREMAN_HISTORY=5 has %d revisions: %v", len(revs), out)
	}

	for i := range cluster.MaxEnvs {
		mustCall(t, c, "POST", app+"/envs", fmt.Sprintf(`{"env":"K%d=v"}`, i))
	}
	mustCall(t, c, "POST", app+"/envs", `{"env":"K0=changed"}`) // replacing one adds none
	for _, bad := range []struct{ body, want string }{
		{`{"env":"ONE_TOO_MANY=v"}`, "MaxEnvs"},
		{`{"env":"K1=a\nb"}`, "control character"},
		{`{"env":"K1=\u001b[31mred"}`, "control character"},
	} {
		status, b := call(t, c, "POST", app+"/envs", bad.body)
		if status != 400 || !strings.Contains(string(b), bad.want) {
			t.Errorf("POST envs %s = %d %s, want 400 naming %s", bad.body, status, b, bad.want)
		}
	}
	for i := range cluster.MaxEnvs {
		call(t, c, "DELETE", fmt.Sprintf("%s/envs/K%d", app, i), "")
	}
	big := strings.Repeat("x", cluster.MaxEnvValueLength)
	for i := 0; ; i++ {
		status, b := call(t, c, "POST", app+"/envs", fmt.Sprintf(`{"env":"BIG%d=%s"}`, i, big))
		if status == 400 {
			if !strings.Contains(string(b), "MaxEnvBytes") {
				t.Errorf("over the byte limit: %s", b)
			}
			break
		}
		if status != 200 || i > cluster.MaxEnvBytes/cluster.MaxEnvValueLength {
			t.Fatalf("env %d of %d bytes = %d %s, want a 400 naming MaxEnvBytes by now", i, len(big), status, b)
		}
	}

	req, _ := http.NewRequest("POST", c.URL()+"/apps", strings.NewReader(`{"app":"form.example.com"}`))
	req.Header.Set("X-Auth", "t0ken-0123456789")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded") // what curl -d sends
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "Content-Type: application/json") {
		t.Errorf("JSON sent as a form = %d %s, want 400 saying to send Content-Type: application/json", resp.StatusCode, b)
	}
}
