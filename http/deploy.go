package http

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

func (s *Server) deploy(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	name := ps.ByName("app")
	if err := cluster.ValidateAppName(name); err != nil {
		s.Error(w, r, err)
		return
	}
	var req DeployRequest
	if err := decodeRequest(r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	d, err := req.validate(s.Scheduler.MaxCount())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	// Deploying an app that does not exist yet creates it, as the original did.
	if _, err := s.Store.CreateApp(name); err != nil {
		s.Error(w, r, err)
		return
	}
	s.rollout(w, r, func(progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
		return s.Scheduler.Deploy(r.Context(), name, d, progress)
	})
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	var req RollbackRequest
	app, err := s.appRequest(r, ps, &req)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	rev := req.Revision.intOr(0)
	if rev < 0 {
		s.Error(w, r, cluster.Errorf(cluster.EINVALID, "Revision %d is not valid", rev).WithFix("give none for the previous one, or a revision number listed by", cluster.OpHistory, cluster.ArgApp, app.Name))
		return
	}
	s.rollout(w, r, func(progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
		return s.Scheduler.Rollback(r.Context(), app.Name, rev, progress)
	})
}

func (s *Server) scale(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	var req ScaleRequest
	app, err := s.appRequest(r, ps, &req)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if req.Count == nil {
		s.Error(w, r, cluster.Errorf(cluster.EINVALID, "A count is required").WithFix("send it with", cluster.OpScale, cluster.ArgApp, app.Name))
		return
	}
	n := int(*req.Count)
	if err := cluster.ValidateCount(n, s.Scheduler.MaxCount(), true); err != nil {
		s.Error(w, r, err)
		return
	}
	s.rollout(w, r, func(progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
		return s.Scheduler.Scale(r.Context(), app.Name, n, progress)
	})
}

// rollout runs a deploy-like operation and answers with its result. A
// client that accepts application/x-ndjson gets each step as a JSON line as
// it happens, the last line being the answer (its status is then 200 even
// when the operation fails, since the header went out first).
func (s *Server) rollout(w http.ResponseWriter, r *http.Request, run func(cluster.ProgressFunc) (*cluster.DeployResult, error)) {
	s.rollouts.Add(1)
	defer s.rollouts.Add(-1)
	// A rollout lasts as long as its health checks; the server's write
	// timeout must not cut its answer.
	w = newStreamWriter(w)
	if !strings.Contains(r.Header.Get("Accept"), "application/x-ndjson") {
		res, err := run(nil)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		ok(w, RolloutResponse{Revision: res.Revision, Instances: nonNil(res.Instances)})
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	var mu sync.Mutex // progress may be reported from several goroutines
	enc := json.NewEncoder(w)
	line := func(v any) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(v)
		_ = rc.Flush()
	}
	res, err := run(func(p cluster.Progress) { line(p) })
	if err != nil {
		if cluster.ErrorCode(err) == cluster.EINTERNAL {
			s.Logger.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		answer := errorResponse(err)
		answer.Status = ErrorStatusCode(answer.Code)
		line(answer)
		return
	}
	body, _ := answerBody(RolloutResponse{Revision: res.Revision, Instances: nonNil(res.Instances)})
	line(json.RawMessage(body[:len(body)-1]))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
