package cluster

import (
	"time"

	"github.com/distribution/reference"
)

// Image pruning: after a revision succeeds, each host loses the images of
// the app's older revisions (see scheduler.PlanImagePrune). Not to be
// confused with PruneRevisions, which trims the revision history in the
// store.
const (
	// DefaultKeepImages is how many of an app's newest succeeded revisions
	// keep their images on the hosts (LONGSHOREMAN_KEEP_IMAGES).
	DefaultKeepImages = 3
	// DanglingTaskAge is how long a one-off task's container that exited
	// and that nothing follows is left on its host before image pruning
	// removes it.
	DanglingTaskAge = 24 * time.Hour
)

// Image is one image on a host, as image pruning sees it.
type Image struct {
	ID string
	// Refs are its tags, each normalized by ImageRef
	// ("registry.example.com:5000/web:3", "docker.io/library/nginx:1.27").
	Refs []string
	// Size is what Docker reports for it, layers shared with other images
	// included.
	Size Bytes
	// Containers counts the containers on the host, of any controller or
	// none, running or not, made from it.
	Containers int
	// Named holds the refs (normalized) that some container on the host
	// was created by: Docker resolves a container's image by its ID, but
	// removing the tag it names would still surprise whoever reads it.
	Named map[string]bool
	// Pullable holds the refs whose repository Docker recorded a digest
	// of this image in (it was pulled from there, or pushed there): those
	// a later pull can bring back. An image built on the host and never
	// pushed has none, and is never pruned: it would be lost for good.
	Pullable map[string]bool
}

// ImageRef returns image normalized, so the references of revisions and of
// Docker's listings compare equal: the registry and the tag made explicit
// ("nginx" is "docker.io/library/nginx:latest"). A reference that does not
// parse is returned as it is.
func ImageRef(image string) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return image
	}
	return reference.TagNameOnly(named).String()
}
