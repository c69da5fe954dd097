package http

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

func (s *Server) listEnvs(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	app, err := s.app(ps)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	ok(w, EnvsResponse{Envs: app.EnvList()})
}

// setEnv sets one KEY=value; on a deployed app the change is rolled out as
// a new revision and the answer comes when it is done.
func (s *Server) setEnv(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	var req SetEnvRequest
	app, err := s.appRequest(r, ps, &req)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	key, value, err := cluster.ParseEnv(req.Env)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	after := make(map[string]string, len(app.Envs)+1)
	for k, v := range app.Envs {
		after[k] = v
	}
	after[key] = value
	if err := cluster.ValidateEnvs(app.Name, after); err != nil {
		s.Error(w, r, err)
		return
	}
	s.rollout(w, r, func(progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
		return s.Scheduler.SetEnv(r.Context(), app.Name, key, value, progress)
	})
}

// unsetEnv removes exactly one key (the 2014 original removed every key
// with that prefix).
func (s *Server) unsetEnv(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	app, err := s.app(ps)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	key := ps.ByName("key")
	if err := cluster.ValidateEnvKey(key); err != nil {
		s.Error(w, r, err)
		return
	}
	if _, set := app.Envs[key]; !set {
		s.Error(w, r, cluster.Errorf(cluster.ENOTFOUND, "App %s has no env %s", app.Name, key).WithFix("list its envs with", cluster.OpEnvs, cluster.ArgApp, app.Name))
		return
	}
	s.rollout(w, r, func(progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
		return s.Scheduler.UnsetEnv(r.Context(), app.Name, key, progress)
	})
}
