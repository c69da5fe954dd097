package scheduler

import (
	"context"

	"github.com/longshoreman/longshoreman/cluster"
)

// UpdateSettings changes app's settings (batch, stop timeout, drain) with
// edit, in one write, and returns the app as stored. It does not wait for
// an operation running on the app: each operation reads the settings when
// it begins, so a change applies to the operations that begin after it.
func (s *Scheduler) UpdateSettings(ctx context.Context, app string, edit func(*cluster.App)) (*cluster.App, error) {
	return s.store.UpdateApp(app, func(a *cluster.App) error {
		if err := notDeleting(a); err != nil {
			return err
		}
		edit(a)
		return nil
	})
}
