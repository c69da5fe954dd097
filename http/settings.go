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
	// Limits at the edge (cluster/limits.go): "10/s", "600/m", "100/h"
	// or "none" (which drops the burst too); the burst, 1 or more (the
	// rate's number when never set); the largest body, "10m", "512k", a
	// number of bytes or "none".
	RateLimit *cluster.Rate `json:"rate_limit,omitempty"`
	Burst     *Int          `json:"burst,omitempty"`
	MaxBody   *BodyLimit    `json:"max_body,omitempty"`
}

// BodyLimit is the largest request body an app takes: "10m", "512k", a
// number of bytes, or "none" (0).
type BodyLimit cluster.Bytes

// UnmarshalJSON accepts "10m", 10485760 and "none".
func (b *BodyLimit) UnmarshalJSON(data []byte) error {
	v, err := cluster.UnmarshalMaxBody(data)
	if err != nil {
		return err
	}
	*b = BodyLimit(v)
	return nil
}

// MarshalJSON writes "10m", or "none" for no limit.
func (b BodyLimit) MarshalJSON() ([]byte, error) { return json.Marshal(b.String()) }

// String is "10m", or "none" for no limit.
func (b BodyLimit) String() string {
	if b <= 0 {
		return "none"
	}
	return cluster.Bytes(b).String()
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
	RateLimit          string `json:"rate_limit"`           // per client address, "10/s"; "none"
	Burst              int    `json:"burst"`                // requests a client may send at once; 0 without a rate limit
	MaxBody            string `json:"max_body"`             // "10m"; "none"
}

// appSettings is a's settings as they apply.
func (s *Server) appSettings(a *cluster.App) AppSettings {
	drain, timeout := s.Scheduler.Stopping(a)
	return AppSettings{Batch: a.Batch, StopTimeout: timeout.String(), Drain: drain.String(),
		StopTimeoutDefault: a.StopTimeout == nil, DrainDefault: a.Drain == nil,
		RateLimit: a.RateLimit.String(), Burst: a.BurstOf(), MaxBody: BodyLimit(a.MaxBody).String()}
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
	if err := req.checkLimits(app); err != nil {
		return err
	}
	a, err := s.Scheduler.UpdateSettings(s.changeContext(w, r, http.StatusOK), app.Name, func(a *cluster.App) {
		if req.Batch != nil {
			a.Batch = int(*req.Batch)
		}
		if req.StopTimeout != nil {
			a.StopTimeout = req.StopTimeout.duration()
		}
		if req.Drain != nil {
			a.Drain = req.Drain.duration()
		}
		req.editLimits(a)
	})
	if err != nil {
		return err
	}
	if req.RateLimit != nil || req.Burst != nil || req.MaxBody != nil {
		// The routers enforce the limits: they travel in the table.
		s.Logger.Info("app limits set", "app", a.Name, "rate_limit", a.RateLimit, "burst", a.BurstOf(), "max_body", BodyLimit(a.MaxBody))
		s.tableChanged()
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

// checkLimits checks the limits given, for app: a burst within its bounds
// and only with a rate limit (given, or the app's).
func (req *SettingsRequest) checkLimits(app *cluster.App) error {
	if req.Burst == nil {
		return nil
	}
	if err := cluster.ValidateBurst(int(*req.Burst)); err != nil {
		return err
	}
	rate := app.RateLimit
	if req.RateLimit != nil {
		rate = *req.RateLimit
	}
	if rate.IsZero() {
		return cluster.Errorf(cluster.EINVALID, "Field \"burst\" applies to a rate limit, and %s has none: give \"rate_limit\" with it, such as {\"rate_limit\": \"10/s\", \"burst\": 20}.", app.Name)
	}
	return nil
}

// editLimits sets the limits given in a; removing the rate limit removes
// its burst.
func (req *SettingsRequest) editLimits(a *cluster.App) {
	if req.RateLimit != nil {
		a.RateLimit = *req.RateLimit
		if a.RateLimit.IsZero() {
			a.Burst = 0
		}
	}
	if req.Burst != nil {
		a.Burst = int(*req.Burst)
	}
	if req.MaxBody != nil {
		a.MaxBody = cluster.Bytes(*req.MaxBody)
	}
}
