//go:build integration

package docker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/docker"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// Images lists an image built on the daemon with its tag, not pullable
// (never pushed) and used by a container created from it (a container of
// no controller: any container counts); RemoveImage refuses it with
// ECONFLICT while that container exists, removes it once the container is
// gone, and takes an image already gone as done. ImageDiskUse counts it.
func TestImagesAndRemoveImage(t *testing.T) {
	t.Parallel()
	e := newEngines(t)
	host := testenv.Hosts(t)[0]
	ref := fmt.Sprintf("docker-images-test-%d:t1", time.Now().UnixNano())
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+testenv.Image(t, "1")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Docker(t, "build", "-q", "--label", "longshoreman.test.images="+ref, "-t", ref, dir)
	t.Cleanup(func() { testenv.DockerErr(t, "rmi", ref) })
	name := strings.ReplaceAll(strings.ReplaceAll(ref, ":", "-"), ".", "-")
	testenv.Docker(t, "create", "--name", name, ref)
	t.Cleanup(func() { testenv.DockerErr(t, "rm", "-f", name) })

	norm := cluster.ImageRef(ref)
	img := findImage(t, e, host, norm)
	if img.Containers != 1 || !img.Named[norm] || img.Pullable[norm] || img.Size <= 0 {
		t.Errorf("image %s listed as %+v, want 1 container naming it, not pullable, a size", ref, img)
	}

	err := e.RemoveImage(ctxFor(t, 30*time.Second), host, norm)
	wantCode(t, err, cluster.ECONFLICT, ref, host)
	if _, err := testenv.DockerErr(t, "image", "inspect", ref); err != nil {
		t.Fatalf("the image a container uses was removed: %v", err)
	}

	testenv.Docker(t, "rm", name)
	if err := e.RemoveImage(ctxFor(t, 30*time.Second), host, norm); err != nil {
		t.Fatalf("RemoveImage of an image no container uses: %v", err)
	}
	if _, err := testenv.DockerErr(t, "image", "inspect", ref); err == nil {
		t.Fatalf("%s is still on the daemon", ref)
	}
	if err := e.RemoveImage(ctxFor(t, 30*time.Second), host, norm); err != nil {
		t.Fatalf("RemoveImage of an image already gone: %v", err)
	}
	if n, err := e.ImageDiskUse(ctxFor(t, 60*time.Second), host); err != nil || n <= 0 {
		t.Fatalf("ImageDiskUse = %d, %v, want the test images' size", n, err)
	}
}

// findImage returns the image tagged ref (normalized) on host.
func findImage(t *testing.T, e *docker.Engines, host, ref string) cluster.Image {
	t.Helper()
	images, err := e.Images(ctxFor(t, 30*time.Second), host)
	if err != nil {
		t.Fatalf("Images on %s: %v", host, err)
	}
	for _, img := range images {
		for _, r := range img.Refs {
			if r == ref {
				return img
			}
		}
	}
	t.Fatalf("Images on %s has no %s", host, ref)
	return cluster.Image{}
}

func TestPullWithRegistryCredentials(t *testing.T) {
	const user, pass = "deployer", "s3cret-pw"
	reg := testenv.StartAuthRegistry(t, user, pass, "")
	image := reg + "/private-testapp:1"
	dockerConfig := t.TempDir()
	dockerCLI := func(args ...string) string {
		out, err := testenv.DockerErr(t, append([]string{"--config", dockerConfig}, args...)...)
		if err != nil {
			t.Fatalf("docker %v: %v: %s", args, err, out)
		}
		return out
	}
	dockerCLI("login", "-u", user, "-p", pass, reg)
	dockerCLI("tag", testenv.Image(t, "1"), image)
	dockerCLI("push", image)
	dockerCLI("rmi", image)
	t.Cleanup(func() { testenv.DockerErr(t, "rmi", image) })

	host := testenv.Hosts(t)[0]
	creds := map[string][2]string{}
	e := docker.New(docker.Config{Port: testenv.DockerPort(t), Auth: func(r string) (string, string, bool) {
		c, ok := creds[r]
		return c[0], c[1], ok
	}})
	defer e.Close()

	_, err := e.Pull(ctxFor(t, time.Minute), host, image)
	wantCode(t, err, cluster.EHOST, image, host, "credentials")

	creds[reg] = [2]string{user, "wrong"}
	_, err = e.Pull(ctxFor(t, time.Minute), host, image)
	wantCode(t, err, cluster.EHOST, image, "credentials stored for registry "+reg)
	if strings.Contains(cluster.ErrorMessage(err), "wrong") {
		t.Fatalf("error shows the password: %v", err)
	}

	creds[reg] = [2]string{user, pass}
	if warning, err := e.Pull(ctxFor(t, time.Minute), host, image); err != nil || warning != "" {
		t.Fatalf("pull with the right credentials: %q, %v", warning, err)
	}
}
