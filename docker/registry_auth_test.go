//go:build integration

package docker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/docker"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

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
