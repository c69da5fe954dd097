package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"

	"github.com/longshoreman/longshoreman/cluster"
)

// Pull pulls img on host. Only ctx bounds it: a large image may take long.
//
// Registry failures arrive either as the API call's error or inside the
// progress stream (a message with errorDetail), so the stream is read to
// its end. When the pull fails and the image is present on the host anyway,
// Pull returns a warning naming host, image and reason, and a nil error;
// when the image is absent, an EHOST error naming the same.
func (e *Engines) Pull(ctx context.Context, host, img string) (string, error) {
	c, err := e.client(host)
	if err != nil {
		return "", err
	}
	named, err := reference.ParseNormalizedNamed(img)
	if err != nil {
		return "", cluster.Errorf(cluster.EINVALID, "Image %q is not a valid image reference: %v.", img, err)
	}
	// Without a tag the API pulls every tag of the repository.
	ref := reference.TagNameOnly(named).String()

	pullErr := e.pull(ctx, host, ref)
	if pullErr == nil {
		return "", nil
	}
	var ce *cluster.Error
	if errors.As(pullErr, &ce) {
		return "", pullErr // the host itself failed, no point asking it more
	}
	reason := strings.TrimPrefix(strings.TrimSpace(pullErr.Error()), "Error response from daemon: ")
	ictx, cancel := e.bounded(context.WithoutCancel(ctx))
	defer cancel()
	if _, ierr := c.ImageInspect(ictx, ref); ierr == nil {
		return fmt.Sprintf("Pulling %s on %s failed (%s); using the copy already on %s.", img, host, reason, host), nil
	}
	if ctx.Err() != nil {
		return "", cluster.Errorf(cluster.EHOST, "Pulling %s on %s did not finish in time (%s). Check that %s can reach the registry, or pull the image there by hand.", img, host, reason, host)
	}
	if low := strings.ToLower(reason); strings.Contains(low, "unauthorized") || strings.Contains(low, "authentication") || strings.Contains(low, "denied") {
		return "", cluster.Errorf(cluster.EHOST, "Pulling %s on %s failed: %s. Check the credentials stored for registry %s", img, host, reason, cluster.RegistryOf(img)).WithFix("set them with", cluster.OpAddRegistry, cluster.ArgRegistry, cluster.RegistryOf(img))
	}
	return "", cluster.Errorf(cluster.EHOST, "Pulling %s on %s failed: %s. Check the image name and tag, and that %s can reach the registry.", img, host, reason, host)
}

// pull runs one pull to its end. It returns a *cluster.Error when the host
// did not answer, and a plain error carrying the registry's reason when the
// pull failed.
func (e *Engines) pull(ctx context.Context, host, ref string) error {
	c, err := e.client(host)
	if err != nil {
		return err
	}
	opts := image.PullOptions{}
	if e.cfg.Auth != nil {
		if user, pass, ok := e.cfg.Auth(cluster.RegistryOf(ref)); ok {
			// X-Registry-Auth: the daemon hands these to the registry.
			if opts.RegistryAuth, err = registry.EncodeAuthConfig(registry.AuthConfig{Username: user, Password: pass, ServerAddress: cluster.RegistryOf(ref)}); err != nil {
				return err
			}
		}
	}
	rc, err := c.ImagePull(ctx, ref, opts)
	if err != nil {
		if isUnreachable(err) {
			return e.hostError(host, "pull "+ref, err)
		}
		return err
	}
	defer rc.Close()
	dec := json.NewDecoder(rc)
	for {
		var m pullMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading the pull progress: %w", err)
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return errors.New(m.ErrorDetail.Message)
		}
		if m.ErrorMessage != "" {
			return errors.New(m.ErrorMessage)
		}
	}
}

// pullMessage is the part of Docker's progress messages (jsonmessage) that
// matters here: a failure reported inside the stream.
type pullMessage struct {
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail,omitempty"`
	ErrorMessage string `json:"error,omitempty"`
}
