package http

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

func (s *Server) listEnvs(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	ok(w, EnvsResponse{Envs: app.EnvList()})
	return nil
}

// setEnv sets one KEY=value; on a deployed app the change is rolled out as
// a new revision and the answer comes when it is done. Env changes sent
// while another one of the app runs are merged into its next revision by
// the scheduler.
//
// The limits are checked here against the app's envs, so a plain request
// over them gets its 400 at once; the scheduler checks them again when the
// change joins a batch, against the app's envs with every change queued
// before it, and once more under the app's lock when the batch is applied,
// against the envs the app holds then (an ndjson request then gets the 400
// as its final line).
func (s *Server) setEnv(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	var req SetEnvRequest
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	key, value, err := cluster.ParseEnv(req.Env)
	if err != nil {
		return err
	}
	note(w, "key", key) // never the value
	after := make(map[string]string, len(app.Envs)+1)
	for k, v := range app.Envs {
		after[k] = v
	}
	after[key] = value
	if err := cluster.ValidateEnvs(app.Name, after); err != nil {
		return err
	}
	ctx, err := waitContext(r, req.Wait, req.WaitTimeout)
	if err != nil {
		return err
	}
	s.rollout(w, r, func(progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
		return s.Scheduler.SetEnv(ctx, app.Name, key, value, progress)
	})
	return nil
}

// unsetEnv removes exactly one key (the 2014 original removed every key
// with that prefix), merged with concurrent env changes like setEnv. The
// key must be set when the request arrives; removing it twice in one batch
// removes it once.
func (s *Server) unsetEnv(w http.ResponseWriter, r *http.Request, app *cluster.App, ps httprouter.Params) error {
	key := ps.ByName("key")
	if err := cluster.ValidateEnvKey(key); err != nil {
		return err
	}
	if _, set := app.Envs[key]; !set {
		return cluster.Errorf(cluster.ENOTFOUND, "App %s has no env %s", app.Name, key).WithFix("list its envs with", cluster.OpEnvs, cluster.ArgApp, app.Name)
	}
	wait, timeout, err := waitQuery(r)
	if err != nil {
		return err
	}
	ctx, err := waitContext(r, wait, timeout)
	if err != nil {
		return err
	}
	s.rollout(w, r, func(progress cluster.ProgressFunc) (*cluster.DeployResult, error) {
		return s.Scheduler.UnsetEnv(ctx, app.Name, key, progress)
	})
	return nil
}
