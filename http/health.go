package http

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"
)

// DefaultHealthEvery is how often, at most, /healthz looks at the store
// and the hosts; see Server.HealthEvery.
const DefaultHealthEvery = time.Second

// healthTimeout bounds one look at the store and the hosts.
const healthTimeout = 5 * time.Second

// healthState is what /healthz last found of the store and the hosts:
// computed by one request at most once per Server.HealthEvery and shared by
// every request until then, so that polling it, with or without a token,
// however often, costs the store (a quorum read on etcd) and the hosts at
// most one look per interval.
type healthState struct {
	mu    sync.Mutex // held while a look is taken: requests meanwhile wait for it and share it; guards the fields
	at    time.Time  // when the last look began; zero before the first
	dbErr error
	hosts map[string]string
}

// forget makes the next look a new one: the hosts changed, and a status
// asked for right after must show them.
func (h *healthState) forget() {
	h.mu.Lock()
	h.at = time.Time{}
	h.mu.Unlock()
}

// look returns each host's state and the store's error (nil when it
// answers), taken now when the last look is older than every, else the
// last look's. The hosts map is the caller's.
func (s *Server) look(every time.Duration) (hosts map[string]string, dbErr error) {
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.at.IsZero() || time.Since(h.at) >= every {
		h.at = time.Now()
		// Shared by every request of the interval: the one that takes it
		// going away must not cut it short.
		ctx, cancel := context.WithTimeout(context.Background(), healthTimeout)
		defer cancel()
		h.dbErr = s.Store.Check()
		h.hosts = map[string]string{}
		if s.Hosts != nil {
			h.hosts = s.Hosts.HostStatus(ctx)
		} else if list, err := s.Store.Hosts(); err == nil {
			for _, host := range list {
				h.hosts[host.Addr] = "not checked"
			}
		}
	}
	return maps.Clone(h.hosts), h.dbErr
}

// healthz answers 200 when the data file is usable and 503 when it is not.
// Without a token that is all it says ({"status": "ok"} or "not ok"), since
// anyone may poll it; with the token it also gives the data file's error,
// Redis's state and each host's state as the reconciler last saw it. The
// store and the hosts are looked at no more than once per HealthEvery (see
// healthState); Redis's state and the role are read from memory at each
// request.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	every := s.HealthEvery
	if every <= 0 {
		every = DefaultHealthEvery
	}
	hosts, dbErr := s.look(every)
	status, word := http.StatusOK, "ok"
	if dbErr != nil {
		status, word = http.StatusServiceUnavailable, "not ok"
	}
	if !s.authorized(r) {
		writeJSON(w, status, map[string]any{"status": word})
		return
	}
	body := HealthResponse{Error: false, Status: word, DB: "ok", Hosts: hosts}
	if dbErr != nil {
		body.Error, body.DB = fmt.Sprintf("The data file is not usable: %v", dbErr), dbErr.Error()
	}
	switch {
	case s.Leadership != nil && !s.Leadership.Leading():
		body.Redis = "not used: this controller follows; the leader publishes"
	case s.Publisher != nil:
		body.Redis = s.Publisher.RedisStatus()
	}
	body.RoleInfo = s.role()
	writeJSON(w, status, body)
}
