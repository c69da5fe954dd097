package scheduler

import (
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// stopping is how one app's instances are stopped: the drain between
// unrouting them and SIGTERM, and the stop timeout between SIGTERM and
// SIGKILL. Each app may set its own (cluster.App's settings); what it
// leaves unset takes the controller's.
type stopping struct {
	drain   time.Duration
	timeout time.Duration
}

// stoppingOf returns a's stopping, with the controller's values where a
// sets none. A nil a takes the controller's.
func (s *Scheduler) stoppingOf(a *cluster.App) stopping {
	return stopping{drain: a.DrainOr(s.cfg.Drain), timeout: a.StopTimeoutOr(s.cfg.StopTimeout)}
}

// appStopping reads app's stopping from the data file, for the work that
// does not hold the app already (background retirements, repairs). An app
// that cannot be read (deleted meanwhile) takes the controller's values.
func (s *Scheduler) appStopping(app string) stopping {
	a, err := s.store.App(app)
	if err != nil {
		return s.stoppingOf(nil)
	}
	return s.stoppingOf(a)
}

// stopping returns how c's instances are stopped, reading the app's
// settings the first time.
func (s *Scheduler) stopping(c *change) stopping {
	if c.stop == nil {
		st := s.appStopping(c.app)
		c.stop = &st
	}
	return *c.stop
}
