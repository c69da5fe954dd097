package cluster

import (
	"time"
)

// Bounds of an app's settings.
const (
	MaxStopTimeout = time.Hour
	MaxDrain       = time.Hour
)

// The app settings are kept apart from revisions: a revision is what runs
// (image, envs, command, release, memory, CPUs, port, health check) and a
// rollback deploys it again; the settings say how the app's instances are
// replaced and stopped (count, batch, stop timeout, drain), whatever
// revision runs. A deploy or a rollback leaves them as they are.
//
// StopTimeout and Drain are pointers so that "not set" (nil: the
// controller's value applies, and follows it when it changes) differs from
// zero (no wait at all: SIGKILL right after SIGTERM, or SIGTERM as soon as
// the routers were told).

// StopTimeoutOr returns the app's stop timeout, or def when it has none.
func (a *App) StopTimeoutOr(def time.Duration) time.Duration {
	if a == nil || a.StopTimeout == nil {
		return def
	}
	return a.StopTimeout.D()
}

// DrainOr returns the app's drain, or def when it has none.
func (a *App) DrainOr(def time.Duration) time.Duration {
	if a == nil || a.Drain == nil {
		return def
	}
	return a.Drain.D()
}

// ValidateBatch checks a batch size: 0 (all at once) to max, the largest
// instance count.
func ValidateBatch(n, max int) error {
	if n < 0 || n > max {
		return Errorf(EINVALID, "Batch %d is out of range: give how many instances to replace at a time, from 1 to %d, or 0 to replace them all at once.", n, max)
	}
	return nil
}

// ValidateStopTimeout checks a stop timeout: whole seconds (Docker counts
// it so) from 0 to MaxStopTimeout.
func ValidateStopTimeout(d time.Duration) error {
	if d < 0 || d > MaxStopTimeout {
		return Errorf(EINVALID, "Stop timeout %s is out of range: give the time an instance has between SIGTERM and SIGKILL, from 0s to %s.", d, MaxStopTimeout)
	}
	if d%time.Second != 0 {
		return Errorf(EINVALID, "Stop timeout %s is not a whole number of seconds: Docker counts it in seconds; give %s or %s.", d, d.Truncate(time.Second), d.Truncate(time.Second)+time.Second)
	}
	return nil
}

// ValidateDrain checks a drain: from 0 to MaxDrain.
func ValidateDrain(d time.Duration) error {
	if d < 0 || d > MaxDrain {
		return Errorf(EINVALID, "Drain %s is out of range: give the wait between unrouting an instance and its SIGTERM, from 0s to %s.", d, MaxDrain)
	}
	return nil
}
