package http

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

// listRegistries names the registries with stored credentials; the
// credentials themselves are never returned.
func (s *Server) listRegistries(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	regs, err := s.Store.Registries()
	if err != nil {
		s.Error(w, r, err)
		return
	}
	ok(w, RegistriesResponse{Registries: regs})
}

func (s *Server) putRegistry(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var req PutRegistryRequest
	err := decodeRequest(r, &req)
	reg := cluster.Registry{Address: req.Registry, Username: req.Username, Password: req.Password}
	if err == nil {
		reg.Address, err = cluster.ValidateRegistry(reg)
	}
	if err == nil {
		err = s.Store.PutRegistry(reg)
	}
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.Logger.Info("registry credentials stored", "registry", reg.Address, "username", reg.Username)
	ok(w, nil)
}

func (s *Server) deleteRegistry(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	addr, err := cluster.ValidateRegistry(cluster.Registry{Address: ps.ByName("registry"), Username: "-", Password: "-"})
	if err == nil {
		err = s.Store.DeleteRegistry(addr)
	}
	if err != nil {
		s.Error(w, r, err)
		return
	}
	ok(w, nil)
}
