package http

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

// listRegistries names the registries with stored credentials; the
// credentials themselves are never returned.
func (s *Server) listRegistries(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	regs, err := s.Store.Registries()
	if err != nil {
		return err
	}
	ok(w, RegistriesResponse{Registries: regs})
	return nil
}

func (s *Server) putRegistry(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	var req PutRegistryRequest
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	reg := cluster.Registry{Address: req.Registry, Username: req.Username, Password: req.Password}
	note(w, "registry", req.Registry) // never the password
	note(w, "username", req.Username)
	addr, err := cluster.ValidateRegistry(reg)
	if err != nil {
		return err
	}
	reg.Address = addr
	if err := s.changeStore(w, r, http.StatusOK).PutRegistry(reg); err != nil {
		return err
	}
	s.Logger.Info("registry credentials stored", "registry", reg.Address, "username", reg.Username)
	return done(w, nil)
}

func (s *Server) deleteRegistry(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	addr, err := cluster.ValidateRegistry(cluster.Registry{Address: ps.ByName("registry"), Username: "-", Password: "-"})
	if err != nil {
		return err
	}
	return done(w, s.changeStore(w, r, http.StatusOK).DeleteRegistry(addr))
}
