package http

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

func (s *Server) listApps(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	s.okCached(w, r, "apps", func() (any, error) {
		apps, err := s.Store.Apps()
		return AppsResponse{Apps: apps}, err
	})
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var req CreateAppRequest
	err := decodeRequest(r, &req)
	if err == nil {
		_, err = s.Store.CreateApp(req.App)
	}
	if err != nil {
		s.Error(w, r, err)
		return
	}
	ok(w, nil)
}

// app validates the :app parameter and loads the app.
func (s *Server) app(ps httprouter.Params) (*cluster.App, error) {
	name := ps.ByName("app")
	if err := cluster.ValidateAppName(name); err != nil {
		return nil, err
	}
	return s.Store.App(name)
}

// appRequest loads the :app parameter's app and decodes the body into req.
func (s *Server) appRequest(r *http.Request, ps httprouter.Params, req any) (*cluster.App, error) {
	app, err := s.app(ps)
	if err != nil {
		return nil, err
	}
	return app, decodeRequest(r, req)
}

func (s *Server) describeApp(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	app, err := s.app(ps)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	d, err := s.description(app)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	ok(w, AppResponse{App: app.Name, Description: d})
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	app, err := s.app(ps)
	if err == nil {
		err = s.Scheduler.DeleteApp(r.Context(), app.Name)
	}
	if err != nil {
		s.Error(w, r, err)
		return
	}
	ok(w, nil)
}

func (s *Server) instances(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	app, err := s.app(ps)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	insts, err := s.Store.Instances(app.Name)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	ok(w, InstancesResponse{Instances: routedAddrs(insts)})
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

func (s *Server) history(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	app, err := s.app(ps)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	revs, err := s.Store.Revisions(app.Name)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	history := make([]HistoryEntry, 0, len(revs))
	for _, rev := range revs {
		history = append(history, HistoryEntry{rev.Number, rev.Time.Unix(), rev.App, rev.Image, rev.Count, rev.Status, rev.Reason, rev.Envs, rev.Number == app.Revision})
	}
	ok(w, HistoryResponse{History: history})
}

func (s *Server) logs(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	app, err := s.app(ps)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	lines, err := s.Scheduler.Logs(r.Context(), app.Name, cluster.DefaultLogLines)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	ok(w, LogsResponse{Logs: lines})
}

func (s *Server) kill(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	app, err := s.app(ps)
	if err == nil {
		err = s.Scheduler.Kill(r.Context(), app.Name)
	}
	if err != nil {
		s.Error(w, r, err)
		return
	}
	ok(w, nil)
}
