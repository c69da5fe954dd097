package http

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

// deploy creates the app when it does not exist yet, as the original did,
// so it does not load the app first.
func (s *Server) deploy(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	name := ps.ByName("app")
	if err := cluster.ValidateAppName(name); err != nil {
		return err
	}
	var req DeployRequest
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	note(w, "image", req.Image)
	if req.Count != nil {
		note(w, "count", strconv.Itoa(int(*req.Count)))
	}
	d, err := req.validate(s.Scheduler.MaxCount())
	if err != nil {
		return err
	}
	ctx, err := waitContext(r, req.Wait, req.WaitTimeout)
	if err != nil {
		return err
	}
	if _, err := s.Store.CreateApp(name); err != nil {
		return err
	}
	s.rollout(w, r, func(progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
		return s.Scheduler.Deploy(ctx, name, d, progress)
	})
	return nil
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	var req RollbackRequest
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	rev := req.Revision.intOr(0)
	if rev != 0 {
		note(w, "to", strconv.Itoa(rev))
	}
	if rev < 0 {
		return cluster.Errorf(cluster.EINVALID, "Revision %d is not valid", rev).WithFix("give none for the previous one, or a revision number listed by", cluster.OpHistory, cluster.ArgApp, app.Name)
	}
	ctx, err := waitContext(r, req.Wait, req.WaitTimeout)
	if err != nil {
		return err
	}
	s.rollout(w, r, func(progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
		if req.Release {
			return s.Scheduler.RollbackRelease(ctx, app.Name, rev, progress)
		}
		return s.Scheduler.Rollback(ctx, app.Name, rev, progress)
	})
	return nil
}

// promote makes the app's canary its current revision (POST
// /apps/:app/promote), answering as a deploy does.
func (s *Server) promote(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	s.rollout(w, r, func(progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
		return s.Scheduler.Promote(r.Context(), app.Name, progress)
	})
	return nil
}

// abort removes the app's canary (POST /apps/:app/abort), answering as a
// deploy does.
func (s *Server) abort(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	var req AbortRequest
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	s.rollout(w, r, func(progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
		return s.Scheduler.Abort(r.Context(), app.Name, req.Reason, progress)
	})
	return nil
}

func (s *Server) scale(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	var req ScaleRequest
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	if req.Count == nil {
		return cluster.Errorf(cluster.EINVALID, "A count is required").WithFix("send it with", cluster.OpScale, cluster.ArgApp, app.Name)
	}
	n := int(*req.Count)
	note(w, "count", strconv.Itoa(n))
	if err := cluster.ValidateCount(n, s.Scheduler.MaxCount(), true); err != nil {
		return err
	}
	ctx, err := waitContext(r, req.Wait, req.WaitTimeout)
	if err != nil {
		return err
	}
	s.rollout(w, r, func(progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
		return s.Scheduler.Scale(ctx, app.Name, n, progress)
	})
	return nil
}

// rollout runs a deploy-like operation and answers with its result. A
// client that accepts application/x-ndjson gets each step as a JSON line as
// it happens, the last line being the answer (its status is then 200 even
// when the operation fails, since the header went out first).
func (s *Server) rollout(w http.ResponseWriter, r *http.Request, run func(cluster.ProgressFunc) (*cluster.DeployResult, error)) {
	s.unsent.add(r.RemoteAddr) // until the connection is idle again
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
		noteRevision(w, res)
		ok(w, RolloutResponse{Revision: res.Revision, Instances: nonNil(res.Instances)})
		return
	}
	line := streamLines(w) // progress may be reported from several goroutines
	res, err := run(func(p cluster.Progress) { line(p) })
	if err != nil {
		if cluster.ErrorCode(err) == cluster.EINTERNAL {
			s.Logger.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		answer := errorResponse(err)
		answer.Status = ErrorStatusCode(answer.Code)
		line(answer)
		failed(w, err)
		return
	}
	noteRevision(w, res)
	line(struct {
		Error bool `json:"error"`
		RolloutResponse
	}{false, RolloutResponse{Revision: res.Revision, Instances: nonNil(res.Instances)}})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// noteRevision adds the revision a rollout made to its audit entry.
func noteRevision(w http.ResponseWriter, res *cluster.DeployResult) {
	if res != nil && res.Revision > 0 {
		note(w, "revision", strconv.Itoa(res.Revision))
	}
}

// streamLines starts an ndjson answer on w, sent at once so that a client
// whose stream then breaks knows the change began, and returns the
// function that writes one line of it and sends it, safe to call from
// several goroutines.
func streamLines(w http.ResponseWriter) func(v any) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	return func(v any) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(v)
		_ = rc.Flush()
	}
}
