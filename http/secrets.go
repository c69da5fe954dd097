package http

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

// rotateSecrets seals every env value with the first key of the
// controller's LONGSHOREMAN_SECRETS_KEY, and the store's check, so that
// the other keys of the list can be dropped. A write: on an etcd store the
// leader does it, with its own list (every controller must have been given
// the new list first).
func (s *Server) rotateSecrets(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if s.EnvKeys == nil {
		return cluster.Errorf(cluster.EINVALID, "This controller's store keeps no encrypted env values: there is no key to rotate.")
	}
	n, err := s.EnvKeys.RotateEnvKey()
	if err != nil {
		return err
	}
	info := s.EnvKeys.EnvKey()
	s.Logger.Info("env values sealed with the first key", "request_id", w.Header().Get("X-Request-Id"), "key_id", info.ID, "records", n)
	ok(w, RotateSecretsResponse{KeyID: info.ID, Sealed: n})
	return nil
}
