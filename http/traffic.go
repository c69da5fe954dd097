package http

import (
	"net/http"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/longshoreman/longshoreman/cluster"
)

// TrafficSource answers an app's traffic figures from the routers'
// summaries (the traffic package's Store).
type TrafficSource interface {
	Figures(app string, since time.Duration, instances bool) cluster.TrafficFigures
}

// DefaultTrafficSince is the span GET /apps/:app/traffic covers without
// since; MaxTrafficSince the longest it keeps.
const (
	DefaultTrafficSince = time.Hour
	MaxTrafficSince     = 24 * time.Hour
)

// traffic answers GET /apps/:app/traffic?since=1h&instances=true from the
// memory of this controller (each listens to the routers, leader or not).
func (s *Server) traffic(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	q := r.URL.Query()
	since := DefaultTrafficSince
	if v := q.Get("since"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > MaxTrafficSince {
			return cluster.Errorf(cluster.EINVALID, "since=%q is not a duration from 10s to 24h: give one such as since=1h (the controller keeps the last 24 h at 10 s resolution).", v)
		}
		since = d
	}
	instances := false
	if v := q.Get("instances"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return cluster.Errorf(cluster.EINVALID, "instances=%q is not a boolean: give instances=true for each instance's figures, or leave it out.", v)
		}
		instances = b
	}
	if s.Traffic == nil {
		return cluster.Errorf(cluster.EUNAVAILABLE, "this controller does not keep traffic figures: it has no Redis to hear the routers on.")
	}
	ok(w, TrafficResponse{App: app.Name, TrafficFigures: s.Traffic.Figures(app.Name, since, instances)})
	return nil
}
