package http

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

// setMaintenance turns maintenance on or off for an app (POST
// /apps/:app/maintenance): the setting is stored in the app, and the
// routing table that carries it to the routers is published at once. It
// does not wait for an operation running on the app: a deploy goes on in
// maintenance.
func (s *Server) setMaintenance(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	var req MaintenanceRequest
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	if req.Enabled == nil {
		return cluster.Errorf(cluster.EINVALID, "Field \"enabled\" is missing: send {\"enabled\": true, \"message\": \"Back at 10:00 UTC.\"} to answer %s with a maintenance page, or {\"enabled\": false} to serve it again.", app.Name)
	}
	note(w, "enabled", strconv.FormatBool(*req.Enabled))
	msg := strings.TrimSpace(req.Message)
	if err := cluster.ValidateMaintenanceMessage(app.Name, msg); err != nil {
		return err
	}
	now := time.Now().UTC()
	app, err := s.Scheduler.UpdateSettings(s.changeContext(w, r, http.StatusOK), app.Name, func(a *cluster.App) {
		if !*req.Enabled {
			a.Maintenance = cluster.AppMaintenance{}
			return
		}
		since := a.Maintenance.Since
		if !a.Maintenance.Enabled || since.IsZero() {
			since = now
		}
		a.Maintenance = cluster.AppMaintenance{Enabled: true, Message: msg, Since: since}
	})
	if err != nil {
		return err
	}
	s.Logger.Info("app maintenance set", "app", app.Name, "enabled", app.Maintenance.Enabled, "message", app.Maintenance.Message)
	s.tableChanged()
	if s.Events != nil {
		e := cluster.Event{Type: cluster.EventApp, Step: "serving", App: app.Name, Time: now}
		if app.Maintenance.Enabled {
			e.Step, e.Message = "maintenance", app.Maintenance.Message
		}
		s.Events.Publish(e)
	}
	ok(w, MaintenanceResponse{App: app.Name, Maintenance: app.Maintenance})
	return nil
}
