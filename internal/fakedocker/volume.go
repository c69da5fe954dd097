package fakedocker

import (
	"context"
	"maps"
	"slices"

	"github.com/longshoreman/longshoreman/cluster"
)

// Volumes returns the names of the volumes on host, sorted: those the
// mounts of the containers run there made, until RemoveVolume.
func (e *Engines) Volumes(host string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Sorted(maps.Keys(e.volumes[host]))
}

// addVolumesLocked records the volumes spec mounts on its host, as Docker
// makes them at the container's creation; the caller holds e.mu.
func (e *Engines) addVolumesLocked(spec cluster.ContainerSpec) {
	for _, m := range spec.Mounts {
		if e.volumes[spec.Host] == nil {
			e.volumes[spec.Host] = map[string]bool{}
		}
		e.volumes[spec.Host][m.Source] = true
	}
}

// RemoveVolume implements scheduler.Engines: a volume a container on the
// host still mounts is refused with ECONFLICT.
func (e *Engines) RemoveVolume(ctx context.Context, host, name string) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.call("RemoveVolume", host); err != nil {
		return false, err
	}
	if !e.volumes[host][name] {
		return false, nil
	}
	for _, c := range e.containers {
		for _, m := range c.spec.Mounts {
			if c.Host == host && m.Source == name {
				return false, cluster.Errorf(cluster.ECONFLICT, "Volume %s on %s is still used by container %s: stop the container first.", name, host, short(c.ID))
			}
		}
	}
	delete(e.volumes[host], name)
	return true, nil
}
