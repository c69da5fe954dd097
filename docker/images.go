package docker

import (
	"context"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"

	"github.com/longshoreman/longshoreman/cluster"
)

// Images returns every image on host with its tags (normalized by
// cluster.ImageRef), which of them a pull can bring back (their repository
// holds a digest of the image) and the containers made from it: every container on
// the daemon, of any controller or none, running or not, since an image
// pruned under any of them would be missing at its next start.
func (e *Engines) Images(ctx context.Context, host string) ([]cluster.Image, error) {
	c, err := e.client(host)
	if err != nil {
		return nil, err
	}
	ctx, cancel := e.bounded(ctx)
	defer cancel()
	list, err := c.ImageList(ctx, image.ListOptions{})
	if err != nil {
		return nil, e.hostError(host, "list images", err)
	}
	cts, err := c.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return nil, e.hostError(host, "list containers", err)
	}
	out := make([]cluster.Image, 0, len(list))
	index := make(map[string]int, len(list))
	for _, im := range list {
		img := cluster.Image{ID: im.ID, Size: cluster.Bytes(im.Size), Named: map[string]bool{}, Pullable: map[string]bool{}}
		digested := map[string]bool{} // repositories holding a digest of it
		for _, d := range im.RepoDigests {
			if named, err := reference.ParseNormalizedNamed(d); err == nil {
				digested[named.Name()] = true
			}
		}
		for _, tag := range im.RepoTags {
			named, err := reference.ParseNormalizedNamed(tag)
			if err != nil {
				continue // "<none>:<none>"
			}
			ref := reference.TagNameOnly(named).String()
			img.Refs = append(img.Refs, ref)
			img.Pullable[ref] = digested[named.Name()]
		}
		index[im.ID] = len(out)
		out = append(out, img)
	}
	for _, ct := range cts {
		if i, ok := index[ct.ImageID]; ok {
			out[i].Containers++
			out[i].Named[cluster.ImageRef(ct.Image)] = true
		}
	}
	return out, nil
}

// RemoveImage removes the tag ref from host, and the image and its
// untagged parent layers with its last tag. It never forces: an image that
// a container (running or not) uses is refused by Docker, and that is
// ECONFLICT. A ref already gone is not an error.
func (e *Engines) RemoveImage(ctx context.Context, host, ref string) error {
	c, err := e.client(host)
	if err != nil {
		return err
	}
	ctx, cancel := e.bounded(ctx)
	defer cancel()
	_, err = c.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true})
	switch {
	case err == nil, cerrdefs.IsNotFound(err):
		return nil
	case cerrdefs.IsConflict(err):
		return cluster.Errorf(cluster.ECONFLICT, "Docker on %s kept image %s: %v.", e.endpoint(host), ref, err)
	}
	return e.hostError(host, "remove image "+ref, err)
}

// ImageDiskUse returns the bytes the host's image layers take, each layer
// counted once (Docker's `system df`). Docker computes it on every call:
// callers should not ask often.
func (e *Engines) ImageDiskUse(ctx context.Context, host string) (int64, error) {
	c, err := e.client(host)
	if err != nil {
		return 0, err
	}
	ctx, cancel := e.bounded(ctx)
	defer cancel()
	du, err := c.DiskUsage(ctx, types.DiskUsageOptions{Types: []types.DiskUsageObject{types.ImageObject}})
	if err != nil {
		return 0, e.hostError(host, "report its disk use", err)
	}
	return du.LayersSize, nil
}
