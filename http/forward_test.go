package http

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/julienschmidt/httprouter"
)

// TestLeaderOnly: every route is either served by any controller from the
// store, or needs the leader; writes always do, whatever their method.
func TestLeaderOnly(t *testing.T) {
	want := map[[2]string]bool{
		{"GET", "/apps"}: false, {"POST", "/apps"}: true, {"GET", "/apps/:app"}: false, {"DELETE", "/apps/:app"}: true,
		{"POST", "/apps/:app/deploy"}: true, {"GET", "/apps/:app/instances"}: false, {"GET", "/apps/:app/envs"}: false,
		{"POST", "/apps/:app/envs"}: true, {"DELETE", "/apps/:app/envs/:key"}: true, {"GET", "/apps/:app/history"}: false,
		{"GET", "/apps/:app/logs"}: true, {"GET", "/apps/:app/kill"}: true, {"POST", "/apps/:app/kill"}: true,
		{"POST", "/apps/:app/rollback"}: true, {"POST", "/apps/:app/scale"}: true,
		{"GET", "/apps/:app/settings"}: false, {"POST", "/apps/:app/settings"}: true,
		{"GET", "/hosts"}: false, {"POST", "/hosts"}: true, {"DELETE", "/hosts/:host"}: true,
		{"GET", "/registries"}: false, {"POST", "/registries"}: true, {"DELETE", "/registries/:registry"}: true,
		{"GET", "/describe"}: false, {"GET", "/routes"}: true, {"GET", "/healthz"}: false, {"GET", "/backup"}: false,
		{"GET", "/metrics"}:          true,
		{"POST", "/apps/:app/https"}: true, {"GET", "/certs"}: false, {"POST", "/certs"}: true, {"DELETE", "/certs/:domain"}: true,
		{"GET", "/router/certs"}: false,
		{"GET", "/events"}:       true, {"GET", "/overview"}: true,
		{"POST", "/apps/:app/run"}: true, {"GET", "/apps/:app/tasks"}: false,
		{"POST", "/apps/:app/maintenance"}:       true,
		{"POST", "/apps/:app/promote"}:           true,
		{"POST", "/apps/:app/abort"}:             true,
		{"DELETE", "/apps/:app/volumes/:volume"}: true,
		{"GET", "/apps/:app/jobs"}:               false, {"POST", "/apps/:app/jobs"}: true, {"DELETE", "/apps/:app/jobs/:job"}: true,
		{"GET", "/tokens"}: false, {"POST", "/tokens"}: true, {"DELETE", "/tokens/:name"}: true, {"GET", "/whoami"}: false,
		{"GET", "/audit"}:             false,
		{"POST", "/secrets/rotate"}:   true,
		{"GET", "/apps/:app/traffic"}: false,
	}
	routes := Routes()
	if len(routes) != len(want) {
		t.Fatalf("%d routes, %d decided here: decide every new route", len(routes), len(want))
	}
	for _, r := range routes {
		got, ok := want[r]
		if !ok {
			t.Errorf("%s %s: not decided here", r[0], r[1])
			continue
		}
		if leaderOnly(r[0], r[1]) != got {
			t.Errorf("leaderOnly(%s %s) = %v, want %v", r[0], r[1], !got, got)
		}
	}
}

// lateLeader is a fake Leadership that names this controller leader at
// once but takes the leadership up only when told, as a controller that
// just won its election does while it confirms its lease.
type lateLeader struct{ leading atomic.Bool }

func (l *lateLeader) Leading() bool                     { return l.leading.Load() }
func (l *lateLeader) Leader() (id, url string, ok bool) { return "me", "http://127.0.0.1:1", true }
func (l *lateLeader) Context() context.Context          { return context.Background() }

// TestForwardedRequestWaitsForTheLeadership: a request forwarded to a
// controller named leader that has not taken the leadership up yet waits
// for it, and is served, rather than being refused at once.
func TestForwardedRequestWaitsForTheLeadership(t *testing.T) {
	l := &lateLeader{}
	s := &Server{Leadership: l, Logger: slog.New(slog.DiscardHandler)}
	served := make(chan struct{})
	h := s.leaderRoute(func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
		close(served)
		w.WriteHeader(http.StatusNoContent)
	})
	time.AfterFunc(300*time.Millisecond, func() { l.leading.Store(true) })
	req := httptest.NewRequest("POST", "/hosts", nil)
	req.Header.Set(forwardedHeader, "other")
	rec := httptest.NewRecorder()
	h(rec, req, nil)
	select {
	case <-served:
	default:
		t.Fatalf("the forwarded request was not served: %d %s", rec.Code, rec.Body)
	}
}
