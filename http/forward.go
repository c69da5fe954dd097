package http

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

// Leadership tells a controller sharing its store with others whether it
// leads. Only the leader changes the cluster; the others forward.
type Leadership interface {
	// Leading reports whether this controller leads now.
	Leading() bool
	// Leader returns the leader's id and API URL, ok false when none is known.
	Leader() (id, url string, ok bool)
	// Context ends when the current leadership does; requests the leader
	// serves run under it, so losing the leadership cancels their Docker
	// calls.
	Context() context.Context
}

// RoleInfo is /healthz's account of the leadership.
type RoleInfo struct {
	Role      string `json:"role"` // "leader" or "follower"
	LeaderID  string `json:"leader_id,omitempty"`
	LeaderURL string `json:"leader_url,omitempty"`
}

// forwardedHeader marks a request one controller forwarded to another, so
// that a request reaching a controller that no longer leads is refused
// rather than sent around in a circle.
const forwardedHeader = "X-Longshoreman-Forwarded"

// leaderOnly reports whether a route needs the leader: every write (GET
// /apps/:app/kill is one), and the reads of live data only the leader
// has: logs from the hosts, the process's metrics, and the routing table
// (reading it raises its version when the routes changed). Reads the store
// answers are served by any controller.
func leaderOnly(method, pattern string) bool {
	if method != http.MethodGet {
		return true
	}
	switch pattern {
	case "/apps/:app/kill", "/apps/:app/logs", "/metrics", "/routes", "/events", "/overview":
		return true
	}
	return false
}

// leaderRoute wraps h of a leader-only route: a follower forwards the
// request to the leader; the leader runs h under its leadership's context.
//
// While no leader is known (at start, or during an election) the request
// waits for one, up to leaderWait, so that a client need not retry. A
// request forwarded here waits up to forwardedWait for this controller to
// lead: the others name a controller leader as soon as it won, a moment
// before it has confirmed its lease and takes up the leadership (and a
// controller alone on its prefix forwards to itself in that moment).
func (s *Server) leaderRoute(h httprouter.Handle) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		forwarded := r.Header.Get(forwardedHeader) != ""
		deadline := time.Now().Add(leaderWait)
		if forwarded {
			deadline = time.Now().Add(forwardedWait)
		}
		for {
			if s.Leadership.Leading() {
				ctx, cancel := context.WithCancel(r.Context())
				defer cancel()
				stop := context.AfterFunc(s.Leadership.Context(), cancel)
				defer stop()
				h(w, r.WithContext(ctx), ps)
				return
			}
			_, _, known := s.Leadership.Leader()
			if known && !forwarded || time.Now().After(deadline) || r.Context().Err() != nil {
				s.forward(w, r)
				return
			}
			select {
			case <-r.Context().Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// forwardedWait is how long a forwarded request waits for this controller
// to take up the leadership it was named for.
const forwardedWait = 5 * time.Second

// leaderWait is how long a leader-only request waits for an election.
const leaderWait = 15 * time.Second

// forward proxies r to the leader, unbuffered, so that progress streams
// arrive line by line.
func (s *Server) forward(w http.ResponseWriter, r *http.Request) {
	_, leader, ok := s.Leadership.Leader()
	if r.Header.Get(forwardedHeader) != "" || !ok {
		// Without a leader, the store is the likeliest cause: say so.
		if err := s.Store.Check(); err != nil {
			s.Error(w, r, err)
			return
		}
	}
	if r.Header.Get(forwardedHeader) != "" {
		s.Error(w, r, cluster.Errorf(cluster.EUNAVAILABLE, "This controller was forwarded a request but does not lead: the leadership is changing; retry in a few seconds."))
		return
	}
	if !ok {
		s.Error(w, r, cluster.Errorf(cluster.EUNAVAILABLE, "No controller leads now (an election is under way): retry in a few seconds; GET /healthz names the leader once there is one."))
		return
	}
	target, err := url.Parse(leader)
	if err != nil {
		s.Error(w, r, cluster.Errorf(cluster.EINTERNAL, "The leader advertises %q, which is not a URL: fix its LONGSHOREMAN_ADVERTISE.", leader))
		return
	}
	proxy := &httputil.ReverseProxy{
		Transport: s.forwards.get(s.ForwardTLS),
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Header.Set(forwardedHeader, "1")
		},
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.Error(w, r, cluster.Errorf(cluster.EUNAVAILABLE, "The leader at %s did not answer (%v): retry in a few seconds, another controller takes over once its lease ends.", leader, err))
		},
		ErrorLog: nil,
	}
	// The leader records the request in the audit log, with the client's
	// address (X-Forwarded-For); this controller does not.
	if rec := recorderOf(w); rec != nil && rec.audit != nil {
		rec.audit.forwarded = true
	}
	// A forwarded answer may be a stream that lasts (deploy progress, a
	// followed log): like the leader's, it is cut only by a write that
	// stalls, not by the server's write timeout.
	proxy.ServeHTTP(newStreamWriter(w), r)
}

// forwardTransport is the one transport a follower forwards with, made at
// the first forward and kept for its connection pool.
type forwardTransport struct {
	once sync.Once
	t    *http.Transport
}

// get returns the transport: net/http's defaults (HTTP/2, timeouts, idle
// pool) with tlsConfig verifying the leader (nil: the system's CAs) and
// no proxy. Controllers reach each other directly at their advertised
// URLs; a proxy of the environment (HTTP_PROXY, HTTPS_PROXY), set for
// the way out to registries or the ACME CA, would be in the way, and would
// see the API token of every request forwarded.
func (f *forwardTransport) get(tlsConfig *tls.Config) *http.Transport {
	f.once.Do(func() {
		f.t = http.DefaultTransport.(*http.Transport).Clone()
		f.t.Proxy = nil
		if tlsConfig != nil {
			f.t.TLSClientConfig = tlsConfig.Clone()
		}
	})
	return f.t
}

// role returns /healthz's leadership fields; nil without a Leadership.
func (s *Server) role() *RoleInfo {
	if s.Leadership == nil {
		return nil
	}
	info := &RoleInfo{Role: "follower"}
	if s.Leadership.Leading() {
		info.Role = "leader"
	}
	info.LeaderID, info.LeaderURL, _ = s.Leadership.Leader()
	return info
}
