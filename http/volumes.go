package http

import (
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

func init() {
	r := opRoutes[cluster.OpRemoveApp]
	r.method, r.path, r.body = "DELETE", "/apps/:app/volumes/:volume", nil
	opRoutes[cluster.OpRemoveVolume] = r
}

// VolumeRemovedResponse answers DELETE /apps/:app/volumes/:volume: the
// Docker volume removed, and the hosts it was removed from.
type VolumeRemovedResponse struct {
	Volume string   `json:"volume"`
	Hosts  []string `json:"hosts"`
}

// removeVolume removes an app's volume from its hosts. The app need not
// exist any more: its volumes outlive it until removed.
func (s *Server) removeVolume(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	app, name := ps.ByName("app"), ps.ByName("volume")
	if err := cluster.ValidateAppName(app); err != nil {
		return err
	}
	if _, _, err := cluster.ParseVolume(name + ":/x"); err != nil || strings.Contains(name, ":") {
		return cluster.Errorf(cluster.EINVALID, "Volume name %q is not valid: give the NAME of the app's NAME:/path.", name)
	}
	hosts, err := s.Scheduler.RemoveVolume(r.Context(), app, name)
	if err != nil {
		return err
	}
	ok(w, VolumeRemovedResponse{Volume: cluster.VolumeName(app, name), Hosts: nonNil(hosts)})
	return nil
}
