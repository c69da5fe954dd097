package docker

import (
	"context"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/longshoreman/longshoreman/cluster"
)

// RemoveVolume removes the named volume from host and reports whether it
// was there. A volume a container still uses is not removed: the error
// has code ECONFLICT.
func (e *Engines) RemoveVolume(ctx context.Context, host, name string) (bool, error) {
	c, err := e.client(host)
	if err != nil {
		return false, err
	}
	ctx, cancel := e.bounded(ctx)
	defer cancel()
	err = c.VolumeRemove(ctx, name, false)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	case cerrdefs.IsConflict(err):
		return false, cluster.Errorf(cluster.ECONFLICT, "Volume %s on %s is still used by a container (%v): stop the container first.", name, host, err)
	}
	return false, e.hostError(host, "remove the volume "+name, err)
}
