package fakedocker

import (
	"context"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// fakeImageSize is the size of every image on a fake host.
const fakeImageSize = 8 << 20

// pullLocked records that image is on host; e.mu held.
func (e *Engines) pullLocked(host, image string) {
	if e.pulled == nil {
		e.pulled = map[string]map[string]bool{}
	}
	if e.pulled[host] == nil {
		e.pulled[host] = map[string]bool{}
	}
	e.pulled[host][cluster.ImageRef(image)] = true
}

// Images implements scheduler.Engines: one image per ref pulled on host
// and not removed since (so pullable again), each used by the host's
// containers made from it.
func (e *Engines) Images(ctx context.Context, host string) ([]cluster.Image, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.call("Images", host); err != nil {
		return nil, err
	}
	var out []cluster.Image
	for ref := range e.pulled[host] {
		img := cluster.Image{ID: "fake:" + ref, Refs: []string{ref}, Size: fakeImageSize, Named: map[string]bool{},
			Pullable: map[string]bool{ref: true}}
		for _, c := range e.containers {
			if c.Host == host && cluster.ImageRef(c.Image) == ref {
				img.Containers++
				img.Named[ref] = true
			}
		}
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// RemoveImage implements scheduler.Engines: refused (ECONFLICT) while a
// container on host is made from ref.
func (e *Engines) RemoveImage(ctx context.Context, host, ref string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.call("RemoveImage", host); err != nil {
		return err
	}
	ref = cluster.ImageRef(ref)
	for _, c := range e.containers {
		if c.Host == host && cluster.ImageRef(c.Image) == ref {
			return cluster.Errorf(cluster.ECONFLICT, "The fake host %s kept image %s: container %s uses it.", host, ref, short(c.ID))
		}
	}
	delete(e.pulled[host], ref)
	return nil
}

// ImageDiskUse implements scheduler.Engines: fakeImageSize per image.
func (e *Engines) ImageDiskUse(ctx context.Context, host string) (int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.call("ImageDiskUse", host); err != nil {
		return 0, err
	}
	return int64(len(e.pulled[host])) * fakeImageSize, nil
}

// HostImages returns the refs (normalized by cluster.ImageRef) on host,
// sorted.
func (e *Engines) HostImages(host string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Sorted(maps.Keys(e.pulled[host]))
}

// SetCreated sets when the container id was created, as a container left
// on its host for a while.
func (e *Engines) SetCreated(id string, t time.Time) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.containers[id]
	if !ok {
		return cluster.Errorf(cluster.ENOTFOUND, "Container %s is not on any fake host.", id)
	}
	c.Created = t
	return nil
}
