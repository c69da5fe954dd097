package http_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/http"
	"github.com/longshoreman/longshoreman/internal/fakedocker"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/scheduler"
)

// mustOpenFakeServer is the API over a real data file and a scheduler on
// the in-memory fake Docker hosts, so deploys run without a daemon.
func mustOpenFakeServer(tb testing.TB) *httptest.Server {
	tb.Helper()
	srv, _ := mustOpenFakeAPI(tb, nil)
	return srv
}

// mustOpenFakeAPI is mustOpenFakeServer with its data file; edit, when not
// nil, changes the Server before it starts.
func mustOpenFakeAPI(tb testing.TB, edit func(*http.Server)) (*httptest.Server, *db.DB) {
	tb.Helper()
	engines := fakedocker.New()
	tb.Cleanup(engines.Close)
	engines.AddImage("registry.example/app:1", fakedocker.Image{})
	engines.AddImage("registry.example/app:sick", fakedocker.Image{Status: nethttp.StatusServiceUnavailable})
	s := openServer(tb, serverSetup{engines: engines, hosts: []string{"127.0.0.1", "127.0.0.2"},
		scheduler: scheduler.Config{Drain: 10 * time.Millisecond}, configure: edit})
	return s.Server, s.DB
}

// deployStream posts a deploy asking for application/x-ndjson and returns
// the Content-Type, the steps streamed and the last line (the answer).
func deployStream(tb testing.TB, srv *httptest.Server, app, body string) (contentType string, steps []cluster.Progress, last map[string]any) {
	tb.Helper()
	resp := open(tb, context.Background(), srv.URL, testToken, "POST", "/apps/"+app+"/deploy", body, "Accept", "application/x-ndjson")
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		tb.Fatalf("status %d, want 200 (the header goes out before the outcome is known)", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 2 {
		tb.Fatalf("%d lines streamed, want steps and an answer: %q", len(lines), lines)
	}
	for _, l := range lines[:len(lines)-1] {
		var p cluster.Progress
		if err := json.Unmarshal([]byte(l), &p); err != nil || p.Step == "" {
			tb.Fatalf("line %q is not a progress step (%v)", l, err)
		}
		steps = append(steps, p)
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		tb.Fatalf("last line %q is not a JSON object: %v", lines[len(lines)-1], err)
	}
	return resp.Header.Get("Content-Type"), steps, last
}

func stepNames(steps []cluster.Progress) string {
	var names []string
	for _, p := range steps {
		names = append(names, p.Step)
	}
	return strings.Join(names, " ")
}

// A deploy streamed as ndjson sends each step as it happens, in order, the
// answer last; a failing one ends with the error and its status.
func TestDeployProgressStream(t *testing.T) {
	srv := mustOpenFakeServer(t)
	ct, steps, last := deployStream(t, srv, "stream.example.com", `{"image": "registry.example/app:1", "count": 2}`)
	if ct != "application/x-ndjson" {
		t.Fatalf("Content-Type %q", ct)
	}
	names := stepNames(steps)
	for _, want := range []string{"revision", "pulling", "pulled", "starting", "started", "healthy", "routed"} {
		if !strings.Contains(names, want) {
			t.Fatalf("steps %q lack %q", names, want)
		}
	}
	if steps[0].Step != "revision" || strings.Index(names, "healthy") > strings.Index(names, "routed") {
		t.Fatalf("steps out of order: %q", names)
	}
	if last["error"] != false || last["revision"] != float64(1) || len(last["instances"].([]any)) != 2 {
		t.Fatalf("answer %v, want revision 1 with 2 instances", last)
	}

	_, steps, last = deployStream(t, srv, "stream.example.com", `{"image": "registry.example/app:sick", "healthcheck": {"timeout": "1s"}}`)
	names = stepNames(steps)
	if steps[len(steps)-1].Step != "failed" || strings.Contains(names, "unrouted") {
		t.Fatalf("steps of a failing deploy %q: want it to end with failed and unroute nothing", names)
	}
	msg, _ := last["error"].(string)
	if last["status"] != float64(502) || !strings.Contains(msg, "answered 503") || !strings.Contains(msg, "still serving") {
		t.Fatalf("answer %v, want status 502 naming the failed check and saying the old instances serve", last)
	}
}

// A rollout's connection counts as unsent from its start until it is idle
// again, its answer out (shutdown waits for that before it cuts the
// connections left): one still checking its instance counts, one answered
// does not.
func TestUnsentUntilTheAnswerIsOut(t *testing.T) {
	var api *http.Server
	srv, _ := mustOpenFakeAPI(t, func(s *http.Server) { api = s })
	resp := open(t, context.Background(), srv.URL, testToken, "POST", "/apps/unsent.example.com/deploy",
		`{"image": "registry.example/app:sick", "healthcheck": {"timeout": "1s"}}`, "Accept", "application/x-ndjson")
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatalf("the first step: %v", err)
	}
	if n := api.Unsent(); n != 1 {
		t.Fatalf("Unsent() = %d while the deploy runs, want 1", n)
	}
	if _, err := io.ReadAll(r); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "the answered deploy's connection no longer unsent", func() bool { return api.Unsent() == 0 })
}
