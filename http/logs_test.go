package http_test

import (
	"bufio"
	"context"
	"encoding/json"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/http"
	"github.com/longshoreman/longshoreman/internal/fakedocker"
)

func TestLogsParameters(t *testing.T) {
	s := MustOpenServer(t)
	if _, err := s.DB.CreateApp("logs.example.com"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ query, want string }{
		{"tail=abc", `tail="abc" is not a number of lines from 0 to 10000`},
		{"tail=-1", `tail="-1"`},
		{"tail=10001", `tail="10001"`},
		{"tail=", `tail=""`},
		{"since=yesterday", `since="yesterday" is neither a duration such as 10m nor an RFC 3339 time`},
		{"since=-10m", `since="-10m"`},
		{"since=2026-01-02", `since="2026-01-02"`},
		{"follow=maybe", `follow="maybe" is not a boolean`},
		{"follow=true&tail=x", `tail="x"`},
	} {
		s.MustFail(t, "GET", "/apps/logs.example.com/logs?"+tc.query, "", 400, tc.want)
	}
	// The original shape, with or without the new parameters.
	for _, q := range []string{"", "?tail=5", "?since=10m", "?since=2026-01-02T15:04:05Z&tail=0", "?follow=false"} {
		out := s.MustOK(t, "GET", "/logs.example.com/logs"+q, "")
		if logs, ok := out["logs"].([]any); !ok || len(logs) != 0 {
			t.Errorf("GET /logs.example.com/logs%s = %v; want {\"logs\": []}", q, out)
		}
	}
	s.MustFail(t, "GET", "/apps/nope.example.com/logs?follow=true", "", 404, "nope.example.com")
}

// followServer is the API over a data file and the fake Docker hosts, with
// one app of one instance.
func followServer(t *testing.T) (*httptest.Server, *http.Server, *fakedocker.Engines, cluster.Instance) {
	t.Helper()
	e := fakedocker.New()
	t.Cleanup(e.Close)
	e.AddImage("registry.example/app:1", fakedocker.Image{})
	s := openServer(t, serverSetup{engines: e, hosts: []string{"127.0.0.1"}})
	if _, err := s.DB.CreateApp("follow.example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Scheduler.Deploy(context.Background(), "follow.example.com", cluster.DeployRequest{Image: "registry.example/app:1", Count: 1,
		HealthCheck: cluster.HealthCheck{Timeout: cluster.Duration(5 * time.Second)}}, nil); err != nil {
		t.Fatal(err)
	}
	insts, err := s.DB.Instances("follow.example.com")
	if err != nil || len(insts) != 1 {
		t.Fatalf("instances = %v, %v; want one", insts, err)
	}
	return s.Server, s.API, e, insts[0]
}

// openFollow starts GET /apps/follow.example.com/logs?follow=true&query.
func openFollow(t *testing.T, ctx context.Context, srv *httptest.Server, query string) (*nethttp.Response, *bufio.Scanner) {
	t.Helper()
	resp := open(t, ctx, srv.URL, testToken, "GET", "/apps/follow.example.com/logs?follow=true&"+query, "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("follow answered %s %q; want 200 application/x-ndjson", resp.Status, resp.Header.Get("Content-Type"))
	}
	return resp, bufio.NewScanner(resp.Body)
}

func TestLogsFollowNDJSON(t *testing.T) {
	srv, _, e, inst := followServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, sc := openFollow(t, ctx, srv, "tail=1")
	defer resp.Body.Close()
	// Once the instance's last line came, its output is followed: a line
	// printed now comes next.
	if !sc.Scan() || !strings.Contains(sc.Text(), `"line":"fake container `+inst.ID[:12]) {
		t.Fatalf("first line = %q, %v; want the container's first line", sc.Text(), sc.Err())
	}
	if err := e.Print(inst.ID, "stderr", `a "quoted" line`); err != nil {
		t.Fatal(err)
	}
	if !sc.Scan() {
		t.Fatalf("the stream ended: %v", sc.Err())
	}
	var got map[string]any
	if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
		t.Fatalf("line %q is not JSON: %v", sc.Bytes(), err)
	}
	if got["instance"] != inst.Addr() || got["host"] != inst.Host || got["stream"] != "stderr" || got["line"] != `a "quoted" line` {
		t.Errorf("line = %s; want the printed line from %s on stderr", sc.Bytes(), inst.Addr())
	}
	if ts, _ := got["time"].(string); ts == "" {
		t.Errorf("line %s has no time", sc.Bytes())
	} else if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		t.Errorf("time %q is not RFC 3339: %v", ts, err)
	}
	if _, ok := got["error"]; ok {
		t.Errorf("line %s has an error field", sc.Bytes())
	}

	// The client going ends the handler: Close waits for every handler.
	cancel()
	closed := make(chan struct{})
	go func() {
		srv.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("the follow handler was still running 30s after its client went")
	}
}

func TestLogsFollowEndsAtShutdown(t *testing.T) {
	srv, api, _, inst := followServer(t)
	resp, sc := openFollow(t, context.Background(), srv, "")
	defer resp.Body.Close()
	// Without tail or since, the last cluster.DefaultLogLines lines first.
	if !sc.Scan() || !strings.Contains(sc.Text(), `"line":"fake container `+inst.ID[:12]) {
		t.Fatalf("first line = %q, %v; want the container's first line", sc.Text(), sc.Err())
	}
	api.EndStreams()
	done := make(chan bool)
	go func() { done <- sc.Scan() }()
	select {
	case more := <-done:
		if more {
			t.Errorf("line %q after EndStreams; want the end of the stream", sc.Text())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the stream was still open 30s after EndStreams")
	}
}
