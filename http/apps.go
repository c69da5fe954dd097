package http

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

func (s *Server) listApps(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	s.okCached(w, r, &s.answers.apps, func() (any, error) {
		apps, err := s.Store.Apps()
		return AppsResponse{Apps: apps}, err
	})
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	var req CreateAppRequest
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	note(w, "app", req.App)
	if c := callerOf(w); c.Name != "" { // a deploy token creates only the apps it names
		if err := c.mayTouch(req.App, r); err != nil {
			return err
		}
	}
	_, err := s.changeStore(w, r, http.StatusOK).CreateApp(req.App)
	return done(w, err)
}

// app validates the :app parameter and loads the app.
func (s *Server) app(ps httprouter.Params) (*cluster.App, error) {
	name := ps.ByName("app")
	if err := cluster.ValidateAppName(name); err != nil {
		return nil, err
	}
	return s.Store.App(name)
}

func (s *Server) describeApp(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	d, err := s.description(app)
	if err != nil {
		return err
	}
	d.Envs = callerOf(w).envsOf(app.Name, d.Envs)
	ok(w, AppResponse{App: app.Name, Description: d, Settings: s.appSettings(app)})
	return nil
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	return done(w, s.Scheduler.DeleteApp(r.Context(), app.Name))
}

func (s *Server) instances(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	insts, err := s.Store.Instances(app.Name)
	if err != nil {
		return err
	}
	ok(w, InstancesResponse{Instances: routedAddrs(insts)})
	return nil
}

// routedAddrs returns the addresses of the routed instances: the ones that
// serve traffic.
func routedAddrs(insts []cluster.Instance) []string {
	addrs := []string{}
	for _, i := range insts {
		if i.Routed {
			addrs = append(addrs, i.Addr())
		}
	}
	return addrs
}

func (s *Server) history(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	revs, err := s.Store.Revisions(app.Name)
	if err != nil {
		return err
	}
	history := make([]HistoryEntry, 0, len(revs))
	for _, rev := range revs {
		e := HistoryEntry{Revision: rev.Number, Timestamp: rev.Time.Unix(), App: rev.App, Image: rev.Image, Count: rev.Count,
			Status: rev.Status, Reason: rev.Reason, Envs: callerOf(w).envsOf(app.Name, rev.Envs), Current: rev.Number == app.Revision}
		e.Memory, e.CPUs, e.OOMKills = rev.Memory, rev.CPUs, rev.OOMKills
		e.Volumes, e.Hosts = rev.Volumes, rev.Hosts
		if !rev.LastOOM.IsZero() {
			e.LastOOM = rev.LastOOM.Unix()
		}
		e.Canary = rev.Canary
		if !rev.Finished.IsZero() {
			e.Finished = rev.Finished.Unix()
		}
		history = append(history, e)
	}
	ok(w, HistoryResponse{History: history})
	return nil
}

func (s *Server) logs(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	opts, err := logsQuery(r)
	if err != nil {
		return err
	}
	if opts.Follow {
		s.followLogs(w, r, app.Name, opts)
		return nil
	}
	lines, err := s.Scheduler.Logs(r.Context(), app.Name, opts)
	if err != nil {
		return err
	}
	ok(w, LogsResponse{Logs: lines})
	return nil
}

func (s *Server) kill(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	return done(w, s.Scheduler.Kill(r.Context(), app.Name))
}
