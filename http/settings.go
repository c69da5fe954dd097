package http

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

// SettingsRequest is the body of POST /apps/:app/settings: the app
// settings to change (see cluster/settings.go); those left out keep their
// value.
type SettingsRequest struct {
	Batch       *Int             `json:"batch,omitempty"`        // 0: all at once
	StopTimeout *DurationSetting `json:"stop_timeout,omitempty"` // whole seconds
	Drain       *DurationSetting `json:"drain,omitempty"`
}

// DurationSetting is a duration, "30s" or a number of seconds, or
// "default": the app follows the controller's value again.
type DurationSetting struct {
	Default bool
	D       time.Duration
}

// UnmarshalJSON accepts "30s", 30 and "default".
func (d *DurationSetting) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil && strings.EqualFold(strings.TrimSpace(s), "default") {
		*d = DurationSetting{Default: true}
		return nil
	}
	var v cluster.Duration
	if err := v.UnmarshalJSON(b); err != nil {
		return fmt.Errorf("%v, or \"default\" for the controller's", err)
	}
	*d = DurationSetting{D: v.D()}
	return nil
}

// MarshalJSON writes "default" or the duration as a string.
func (d DurationSetting) MarshalJSON() ([]byte, error) {
	if d.Default {
		return json.Marshal("default")
	}
	return json.Marshal(d.D.String())
}

// SettingsResponse answers GET and POST /apps/:app/settings.
type SettingsResponse struct {
	App      string      `json:"app"`
	Settings AppSettings `json:"settings"`
}

// AppSettings are an app's settings as they apply: a stop timeout or drain
// the app does not set is the controller's, and says so.
type AppSettings struct {
	Batch              int    `json:"batch"` // 0: all at once
	StopTimeout        string `json:"stop_timeout"`
	Drain              string `json:"drain"`
	StopTimeoutDefault bool   `json:"stop_timeout_default"` // the controller's (10s)
	DrainDefault       bool   `json:"drain_default"`        // the controller's (LONGSHOREMAN_DRAIN)
}

// appSettings is a's settings as they apply.
func (s *Server) appSettings(a *cluster.App) AppSettings {
	drain, timeout := s.Scheduler.Stopping(a)
	return AppSettings{Batch: a.Batch, StopTimeout: timeout.String(), Drain: drain.String(),
		StopTimeoutDefault: a.StopTimeout == nil, DrainDefault: a.Drain == nil}
}

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	ok(w, SettingsResponse{App: app.Name, Settings: s.appSettings(app)})
	return nil
}

// setSettings checks every field given before it changes any, then
// changes them in one write.
func (s *Server) setSettings(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	var req SettingsRequest
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	if req.Batch != nil {
		if err := cluster.ValidateBatch(int(*req.Batch), s.Scheduler.MaxCount()); err != nil {
			return err
		}
	}
	if req.StopTimeout != nil && !req.StopTimeout.Default {
		if err := cluster.ValidateStopTimeout(req.StopTimeout.D); err != nil {
			return err
		}
	}
	if req.Drain != nil && !req.Drain.Default {
		if err := cluster.ValidateDrain(req.Drain.D); err != nil {
			return err
		}
	}
	a, err := s.Scheduler.UpdateSettings(r.Context(), app.Name, func(a *cluster.App) {
		if req.Batch != nil {
			a.Batch = int(*req.Batch)
		}
		if req.StopTimeout != nil {
			a.StopTimeout = req.StopTimeout.duration()
		}
		if req.Drain != nil {
			a.Drain = req.Drain.duration()
		}
	})
	if err != nil {
		return err
	}
	ok(w, SettingsResponse{App: a.Name, Settings: s.appSettings(a)})
	return nil
}

// duration is the setting as the app stores it: nil for the controller's.
func (d *DurationSetting) duration() *cluster.Duration {
	if d.Default {
		return nil
	}
	v := cluster.Duration(d.D)
	return &v
}
