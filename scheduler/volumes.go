package scheduler

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/longshoreman/longshoreman/cluster"
)

// RemoveVolume removes the app's volume name (the NAME of NAME:/path:
// Docker's cluster.VolumeName) from every host of the cluster that has it,
// and returns those hosts. It is refused with ECONFLICT while the app's
// current revision mounts it and runs (deploy it without the volume, or
// kill it, first); an app already deleted may still have its volumes
// removed. ENOTFOUND says that no host has it. Nothing else ever removes a
// volume.
func (s *Scheduler) RemoveVolume(ctx context.Context, app, name string) ([]string, error) {
	var removed []string
	err := s.exclusive(ctx, app, "a volume removal", func(ctx context.Context) error {
		a, err := s.store.App(app)
		switch {
		case cluster.ErrorCode(err) == cluster.ENOTFOUND:
		case err != nil:
			return err
		case a.Count > 0 && slices.Contains(cluster.VolumeNames(a.Volumes), name):
			return cluster.Errorf(cluster.ECONFLICT, "App %s runs with volume %s (it mounts %s): deploy it without that volume, or stop it, first", app, name, strings.Join(a.Volumes, ", ")).WithFix("stop it with", cluster.OpKill, cluster.ArgApp, app)
		}
		removed, err = s.removeVolume(ctx, cluster.VolumeName(app, name))
		return err
	})
	return removed, err
}

// removeVolume removes the volume from every host, and returns the hosts
// that had it.
func (s *Scheduler) removeVolume(ctx context.Context, volume string) ([]string, error) {
	hosts, err := s.store.Hosts()
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, h := range hosts {
		ok, err := s.engines.RemoveVolume(ctx, h.Addr, volume)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			removed = append(removed, h.Addr)
			s.cfg.Logger.Info("volume removed", "volume", volume, "host", h.Addr)
		}
	}
	if len(errs) > 0 {
		return removed, errors.Join(errs...)
	}
	if len(removed) == 0 {
		return nil, cluster.Errorf(cluster.ENOTFOUND, "No host has the volume %s", volume).WithFix("see the app's volumes with", cluster.OpDescribe)
	}
	return removed, nil
}
