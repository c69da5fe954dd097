// Package testenv gives the integration tier the real parts that
// scripts/services starts: Docker hosts, a Redis server, a registry, an etcd
// cluster, Redis Sentinels and the test application image, to tests built
// with the integration tag (docs/design.md, "Test tiers"); an accessor whose
// part is absent fails the test with a message saying how to start it:
// nothing is ever skipped. The fast tier uses only its waits (Eventually,
// MainWaiting).
package testenv

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Environment variables set by scripts/test.
const (
	EnvHosts      = "LONGSHOREMAN_TEST_HOSTS"       // comma-separated host IPs sharing one dockerd
	EnvDockerPort = "LONGSHOREMAN_TEST_DOCKER_PORT" // Docker API port on each host
	EnvDockerHost = "LONGSHOREMAN_TEST_DOCKER_HOST" // DOCKER_HOST for the docker CLI (unix socket)
	EnvRedis      = "LONGSHOREMAN_TEST_REDIS"       // host:port of a running redis-server
	EnvImage      = "LONGSHOREMAN_TEST_IMAGE"       // test app image repository, tags 1 and 2
	EnvRegistry   = "LONGSHOREMAN_TEST_REGISTRY"    // host:port of a local registry

	// EnvChromium is the path of the Chromium binary the dashboard's browser
	// tests drive (Debian's chromium under scripts/test).
	EnvChromium = "LONGSHOREMAN_TEST_CHROMIUM"
)

func need(tb testing.TB, name, what string) string {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		tb.Fatalf("%s is not set: this test needs %s; start the test services with `scripts/services up` and load their environment with `. <(scripts/services env)`, or run scripts/test", name, what)
	}
	return v
}

// Hosts returns the test hosts' IP addresses (three under scripts/test).
func Hosts(tb testing.TB) []string {
	tb.Helper()
	return strings.Split(need(tb, EnvHosts, "Docker hosts on loopback addresses"), ",")
}

// DockerPort returns the Docker API port of the test hosts.
func DockerPort(tb testing.TB) int {
	tb.Helper()
	p, err := strconv.Atoi(need(tb, EnvDockerPort, "the Docker API port of the test hosts"))
	if err != nil {
		tb.Fatalf("%s: %v", EnvDockerPort, err)
	}
	return p
}

// Redis returns the address of the shared redis-server.
func Redis(tb testing.TB) string {
	tb.Helper()
	return need(tb, EnvRedis, "a running redis-server")
}

// Image returns the test app image reference for version "1" or "2".
func Image(tb testing.TB, version string) string {
	tb.Helper()
	return need(tb, EnvImage, "the test app image built by scripts/test") + ":" + version
}

// Registry returns the host:port of the local registry.
func Registry(tb testing.TB) string {
	tb.Helper()
	return need(tb, EnvRegistry, "a local docker-registry")
}

// Chromium returns the browser's path; a path that does not exist fails
// the test as a missing part does.
func Chromium(tb testing.TB) string {
	tb.Helper()
	path := need(tb, EnvChromium, "a Chromium browser (Debian's chromium)")
	if _, err := os.Stat(path); err != nil {
		tb.Fatalf("%s=%s: %v; install Debian's chromium or point it at the browser", EnvChromium, path, err)
	}
	return path
}

// Docker runs the docker CLI against the test daemon and returns its
// combined output; it fails the test when the command fails.
func Docker(tb testing.TB, args ...string) string {
	tb.Helper()
	out, err := DockerErr(tb, args...)
	if err != nil {
		tb.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// DockerErr is Docker without failing the test.
func DockerErr(tb testing.TB, args ...string) (string, error) {
	tb.Helper()
	host := need(tb, EnvDockerHost, "the test dockerd's unix socket")
	cmd := exec.Command("docker", args...)
	// The legacy builder for `docker build`: the test images are FROM
	// scratch and need neither buildx nor a pull.
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+host, "DOCKER_BUILDKIT=0")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// handedOut holds the ports FreePort returned in this process.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago and
// that no earlier call in this process returned. The kernel may give a
// port that was just closed to the next bind to port 0: two calls in a row
// (the members of a test's etcd cluster) could get the same port, or a
// parallel test the one another test is about to bind.
func FreePort(tb testing.TB) int {
	tb.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	var held []net.Listener // kept open, so that no retry is given them again
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		held = append(held, l)
		if port := l.Addr().(*net.TCPAddr).Port; !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port
		}
	}
}
