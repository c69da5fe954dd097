package testenv

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvEtcd lists the client endpoints (host:port, comma-separated) of the
// three-member etcd cluster scripts/test starts on loopback.
const EnvEtcd = "LONGSHOREMAN_TEST_ETCD"

// Etcd returns the endpoints of the shared test etcd cluster.
func Etcd(tb testing.TB) []string {
	tb.Helper()
	return strings.Split(need(tb, EnvEtcd, "a running etcd cluster"), ",")
}

// EtcdCluster is a three-member etcd cluster owned by one test, so the test
// can kill and restart members as real faults (the shared cluster must stay
// up for everyone else).
type EtcdCluster struct {
	Endpoints []string // client host:port of each member
	tb        testing.TB
	dir       string
	initial   string
	peers     []string
	certs     *TLSCerts // clients talk TLS and must show a certificate of its CA

	mu   sync.Mutex // guards cmds
	cmds []*exec.Cmd
}

// StartEtcd starts a private three-member etcd cluster on free loopback
// ports and waits until every member is healthy; it is killed when the
// test ends.
func StartEtcd(tb testing.TB) *EtcdCluster {
	tb.Helper()
	return startEtcd(tb, nil)
}

// StartEtcdTLS starts a private cluster whose clients must connect with TLS
// and show a client certificate signed by certs' CA (certs.Dir holds
// ca.pem, cert.pem and key.pem for the client).
func StartEtcdTLS(tb testing.TB, certs *TLSCerts) *EtcdCluster {
	tb.Helper()
	return startEtcd(tb, certs)
}

func startEtcd(tb testing.TB, certs *TLSCerts) *EtcdCluster {
	tb.Helper()
	Etcd(tb) // skips locally, like every etcd test, unless scripts/test runs
	if _, err := exec.LookPath("etcd"); err != nil {
		tb.Fatalf("etcd not found in PATH (apt-get install etcd-server): %v", err)
	}
	c := &EtcdCluster{tb: tb, dir: tb.TempDir(), cmds: make([]*exec.Cmd, 3), certs: certs}
	var initial []string
	for i := range 3 {
		c.Endpoints = append(c.Endpoints, Addr("127.0.0.1", FreePort(tb)))
		c.peers = append(c.peers, Addr("127.0.0.1", FreePort(tb)))
		initial = append(initial, fmt.Sprintf("m%d=http://%s", i, c.peers[i]))
	}
	c.initial = strings.Join(initial, ",")
	tb.Cleanup(func() {
		for i := range 3 {
			c.Kill(i)
		}
	})
	for i := range 3 {
		c.start(i)
	}
	for i := range 3 {
		c.waitHealthy(i, 30*time.Second)
	}
	return c
}

func (c *EtcdCluster) start(i int) {
	c.tb.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmds[i] != nil {
		return
	}
	client, peer := c.scheme()+c.Endpoints[i], "http://"+c.peers[i]
	args := []string{"--name", fmt.Sprintf("m%d", i), "--data-dir", filepath.Join(c.dir, fmt.Sprintf("m%d", i)),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", c.initial, "--initial-cluster-token", "longshoreman-test", "--initial-cluster-state", "new"}
	if c.certs != nil {
		args = append(args, "--cert-file", filepath.Join(c.certs.Dir, "server-cert.pem"), "--key-file", filepath.Join(c.certs.Dir, "server-key.pem"),
			"--client-cert-auth", "--trusted-ca-file", filepath.Join(c.certs.Dir, "ca.pem"))
	}
	cmd := exec.Command("etcd", args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // etcd reads ETCD_* variables: none of ours
	log, err := os.OpenFile(filepath.Join(c.dir, fmt.Sprintf("m%d.log", i)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		c.tb.Fatalf("start etcd member %d: %v", i, err)
	}
	c.cmds[i] = cmd
}

// Start restarts member i (killed by Kill) and waits until it is healthy.
func (c *EtcdCluster) Start(i int) {
	c.tb.Helper()
	c.start(i)
	c.waitHealthy(i, 30*time.Second)
}

// Kill kills member i (SIGKILL: a real fault) and waits for it to exit.
func (c *EtcdCluster) Kill(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmds[i] == nil {
		return
	}
	_ = c.cmds[i].Process.Kill()
	_ = c.cmds[i].Wait()
	c.cmds[i] = nil
}

func (c *EtcdCluster) scheme() string {
	if c.certs != nil {
		return "https://"
	}
	return "http://"
}

func (c *EtcdCluster) waitHealthy(i int, timeout time.Duration) {
	c.tb.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	if c.certs != nil {
		cert, err := tls.LoadX509KeyPair(filepath.Join(c.certs.Dir, "cert.pem"), filepath.Join(c.certs.Dir, "key.pem"))
		if err != nil {
			c.tb.Fatal(err)
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.certs.RootCAs(), Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if resp, err := client.Get(c.scheme() + c.Endpoints[i] + "/health"); err == nil {
			ok := resp.StatusCode == http.StatusOK
			resp.Body.Close()
			if ok {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(c.dir, fmt.Sprintf("m%d.log", i)))
	c.tb.Fatalf("etcd member %d on %s not healthy within %s; its log ends:\n%s", i, c.Endpoints[i], timeout, lastLines(string(b), 20))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
