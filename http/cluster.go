package http

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

func (s *Server) description(app *cluster.App) (AppDescription, error) {
	insts, err := s.Store.Instances(app.Name)
	if err != nil {
		return AppDescription{}, err
	}
	return describeApp(app, insts), nil
}

// describeApp is app with insts, its instances.
func describeApp(app *cluster.App, insts []cluster.Instance) AppDescription {
	var canary []cluster.Instance
	if app.Canary != nil {
		var rest []cluster.Instance
		for _, i := range insts {
			if app.IsCanary(i) {
				canary = append(canary, i)
			} else {
				rest = append(rest, i)
			}
		}
		insts = rest
	}
	d := AppDescription{Image: app.Image, Revision: app.Revision, Count: app.Count, Port: app.Port, Instances: routedAddrs(insts), Envs: app.EnvList()}
	if app.Canary != nil {
		d.Canary = &CanaryDescription{AppCanary: *app.Canary, Instances: routedAddrs(canary)}
	}
	d.Memory, d.CPUs = app.Memory, app.CPUs
	if app.Maintenance.Enabled {
		m := app.Maintenance
		d.Maintenance = &m
	}
	d.Volumes, d.Hosts = app.Volumes, app.Hosts
	return d
}

// describe answers GET /describe: every app's description. The answer is
// kept while the store does not change, except for a token limited to some
// apps, which gets the env values of those apps only.
func (s *Server) describe(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if c := callerOf(w); c.limited() {
		answer, err := s.describeAll()
		if err != nil {
			s.Error(w, r, err)
			return
		}
		for app, d := range answer.Description {
			d.Envs = c.envsOf(app, d.Envs)
			answer.Description[app] = d
		}
		ok(w, answer)
		return
	}
	s.okCached(w, r, &s.answers.describe, func() (any, error) { return s.describeAll() })
}

// describeAll describes every app.
func (s *Server) describeAll() (DescribeResponse, error) {
	apps, err := s.Store.AllApps()
	if err != nil {
		return DescribeResponse{}, err
	}
	insts, err := s.Store.AllInstances()
	if err != nil {
		return DescribeResponse{}, err
	}
	byApp := map[string][]cluster.Instance{}
	for _, i := range insts {
		byApp[i.App] = append(byApp[i.App], i)
	}
	desc := map[string]AppDescription{}
	for _, app := range apps {
		desc[app.Name] = describeApp(app, byApp[app.Name])
	}
	return DescribeResponse{Description: desc}, nil
}

// routes answers with the routing table exactly as it is published.
func (s *Server) routes(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	t, err := s.Store.RoutingTable()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// backup streams a consistent copy of the data file: without the private
// keys unless ?keys=true (who holds the API token reads the cluster's
// state, not its keys, unless they ask for them).
func (s *Server) backup(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	keys := false
	switch v := r.URL.Query().Get("keys"); v {
	case "", "false":
	case "true":
		keys = true
	default:
		return cluster.Errorf(cluster.EINVALID, "Query keys=%q is neither true nor false: give keys=true for a backup with the private keys (certificate keys, ACME account keys, routes key, router token), or leave it out for one without.", clipBytes([]byte(v)))
	}
	name := "longshoreman-" + time.Now().UTC().Format("20060102T150405Z")
	note(w, "keys", strconv.FormatBool(keys))
	if keys {
		name += "-keys"
		s.Logger.Info("backup taken with the private keys", "request_id", w.Header().Get("X-Request-Id"), "remote", r.RemoteAddr)
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.db"`, name))
	// A large file over a slow link may take longer than the server's write
	// timeout; the copy is taken first, so the stream holds nothing else.
	if _, err := s.Store.Backup(newStreamWriter(w), keys); err != nil {
		// The header is out; all that can be done is to cut the body short
		// so the client sees a truncated transfer, and log it.
		s.Logger.Error("backup failed", "err", err)
		failed(w, err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if s.Metrics == nil {
		return cluster.Errorf(cluster.ENOTFOUND, "Metrics are not enabled on this controller.")
	}
	s.Metrics.ServeHTTP(w, r)
	return nil
}
