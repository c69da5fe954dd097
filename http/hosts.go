package http

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

func (s *Server) listHosts(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	hosts, err := s.Store.Hosts()
	if err != nil {
		return err
	}
	addrs := make([]string, len(hosts))
	for i, h := range hosts {
		addrs[i] = h.Addr
	}
	ok(w, HostsResponse{Hosts: addrs})
	return nil
}

func (s *Server) addHost(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	var req AddHostRequest
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	note(w, "host", req.Host)
	addr, err := cluster.ValidateHost(req.Host)
	if err != nil {
		return err
	}
	err = s.Scheduler.AddHost(s.changeContext(w, r, http.StatusOK), addr)
	s.health.forget()
	return done(w, err)
}

// removeHost drains the host (its instances are replaced elsewhere first)
// and forgets it. ?force=true removes it even when it holds the last
// instances of an app.
func (s *Server) removeHost(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	addr, err := cluster.ValidateHost(ps.ByName("host"))
	if err != nil {
		return err
	}
	err = s.Scheduler.RemoveHost(r.Context(), addr, r.URL.Query().Get("force") == "true")
	s.health.forget()
	return done(w, err)
}
