//go:build integration

package docker_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/docker"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"golang.org/x/crypto/bcrypt"
)

// startAuthRegistry runs Debian's docker-registry behind htpasswd on a
// free loopback port and returns its address.
func startAuthRegistry(t *testing.T, user, pass string) string {
	t.Helper()
	testenv.Registry(t) // skips or fails like the other registry tests
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(user+":"+string(hash)+"\n"), 0o600)
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	config := fmt.Sprintf(`version: 0.1
storage:
  filesystem:
    rootdirectory: %s/data
http:
  addr: %s
auth:
  htpasswd:
    realm: longshoreman-test
    path: %s/htpasswd
`, dir, addr, dir)
	os.WriteFile(filepath.Join(dir, "config.yml"), []byte(config), 0o600)
	cmd := exec.Command("docker-registry", "serve", filepath.Join(dir, "config.yml"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("docker-registry: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the htpasswd registry did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return addr
}

func TestPullWithRegistryCredentials(t *testing.T) {
	const user, pass = "deployer", "s3cret-pw"
	reg := startAuthRegistry(t, user, pass)
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
