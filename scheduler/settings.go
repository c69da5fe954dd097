package scheduler

import (
	"context"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// UpdateSettings changes app's settings (batch, stop timeout, drain) with
// edit, in one write, and returns the app as stored. It does not wait for
// an operation running on the app: each operation reads the settings when
// it begins, so a change applies to the operations that begin after it.
func (s *Scheduler) UpdateSettings(ctx context.Context, app string, edit func(*cluster.App)) (*cluster.App, error) {
	ctx, end, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	return s.fenced(ctx).UpdateApp(app, func(a *cluster.App) error {
		if err := notDeleting(a); err != nil {
			return err
		}
		edit(a)
		return nil
	})
}

// Stopping returns the drain and the stop timeout that apply to a: its
// own, or the controller's where it sets none.
func (s *Scheduler) Stopping(a *cluster.App) (drain, stopTimeout time.Duration) {
	st := s.stoppingOf(a)
	return st.drain, st.timeout
}
