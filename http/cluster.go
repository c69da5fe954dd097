package http

import (
	"fmt"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

// appDescription is one app in GET /describe.
type appDescription struct {
	Image     string   `json:"image"`
	Revision  int      `json:"revision"`
	Count     int      `json:"count"`
	Port      int      `json:"port,omitempty"`
	Instances []string `json:"instances"`
	Envs      []string `json:"envs"`
}

func (s *Server) description(app *cluster.App) (appDescription, error) {
	insts, err := s.Store.Instances(app.Name)
	if err != nil {
		return appDescription{}, err
	}
	return appDescription{Image: app.Image, Revision: app.Revision, Count: app.Count, Port: app.Port, Instances: routedAddrs(insts), Envs: app.EnvList()}, nil
}

func (s *Server) describe(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	s.okCached(w, r, "describe", func() (map[string]any, error) {
		apps, err := s.Store.AllApps()
		if err != nil {
			return nil, err
		}
		insts, err := s.Store.AllInstances()
		if err != nil {
			return nil, err
		}
		byApp := map[string][]cluster.Instance{}
		for _, i := range insts {
			byApp[i.App] = append(byApp[i.App], i)
		}
		desc := map[string]appDescription{}
		for _, app := range apps {
			desc[app.Name] = appDescription{Image: app.Image, Revision: app.Revision, Count: app.Count, Port: app.Port, Instances: routedAddrs(byApp[app.Name]), Envs: app.EnvList()}
		}
		return map[string]any{"description": desc}, nil
	})
}

// routes answers with the routing table exactly as it is published.
func (s *Server) routes(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	t, err := s.Store.RoutingTable()
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// healthz answers 200 when the data file is usable and 503 when it is not.
// Without a token that is all it says ({"status": "ok"} or "not ok"), since
// anyone may poll it; with the token it also gives the data file's error,
// Redis's state and each host's state as the reconciler last saw it.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	status, word := http.StatusOK, "ok"
	dbErr := s.Store.Check()
	if dbErr != nil {
		status, word = http.StatusServiceUnavailable, "not ok"
	}
	if !s.authorized(r) {
		writeJSON(w, status, map[string]any{"status": word})
		return
	}
	body := map[string]any{"error": false, "status": word, "db": "ok"}
	if dbErr != nil {
		body["error"], body["db"] = fmt.Sprintf("The data file is not usable: %v", dbErr), dbErr.Error()
	}
	if s.Publisher != nil {
		body["redis"] = s.Publisher.RedisStatus()
	}
	hosts := map[string]string{}
	if s.Hosts != nil {
		hosts = s.Hosts.HostStatus(r.Context())
	} else if list, err := s.Store.Hosts(); err == nil {
		for _, h := range list {
			hosts[h.Addr] = "not checked"
		}
	}
	body["hosts"] = hosts
	writeJSON(w, status, body)
}

// backup streams a consistent copy of the data file.
func (s *Server) backup(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="longshoreman-%s.db"`, time.Now().UTC().Format("20060102T150405Z")))
	// A large file over a slow link may take longer than the server's write
	// timeout; the copy is taken first, so the stream holds nothing else.
	if _, err := s.Store.WriteTo(newStreamWriter(w)); err != nil {
		// The header is out; all that can be done is to cut the body short
		// so the client sees a truncated transfer, and log it.
		s.Logger.Error("backup failed", "err", err)
		panic(http.ErrAbortHandler)
	}
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if s.Metrics == nil {
		s.Error(w, r, cluster.Errorf(cluster.ENOTFOUND, "Metrics are not enabled on this controller."))
		return
	}
	s.Metrics.ServeHTTP(w, r)
}
