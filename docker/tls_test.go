//go:build integration

package docker_test

import (
	"crypto/tls"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/docker"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// TestTLS runs the adapter against a second dockerd that only speaks TLS
// with client verification (--tlsverify), with certificates the test made.
// That daemon has no bridge, so it cannot publish ports: the subtests stay
// with what needs none (ping, info, list).
func TestTLS(t *testing.T) {
	_, bridgeErr := net.InterfaceByName("docker0")
	d := testenv.StartTLSDockerd(t)
	host := d.Host
	t.Cleanup(func() {
		// The shared daemon's containers need its bridge: a second dockerd
		// must not take it away (one with --bridge none deletes docker0
		// unless it has a network namespace of its own).
		if _, err := net.InterfaceByName("docker0"); bridgeErr == nil && err != nil {
			t.Errorf("docker0 is gone after the TLS dockerd ran: %v", err)
		}
	})

	t.Run("CertPath", func(t *testing.T) {
		// As serve does with DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=dir.
		e := tlsEngines(t, docker.Config{Port: d.Port, CertPath: d.Certs.Dir})
		ctx := ctxFor(t, 20*time.Second)
		if err := e.Ping(ctx, host); err != nil {
			t.Fatalf("Ping over TLS: %v", err)
		}
		mem, err := e.FreeMemory(ctx, host)
		if err != nil || mem <= 0 {
			t.Fatalf("FreeMemory over TLS = %d, %v; want the host's memory", mem, err)
		}

		// A container of ours on that daemon, made through its plain unix
		// socket, must come back from List over TLS.
		app := testenv.UniqueApp(t, "docker-tls")
		img := testenv.Image(t, "1")
		archive := filepath.Join(t.TempDir(), "image.tar")
		testenv.Docker(t, "save", "-o", archive, img)
		d.Docker(t, "load", "-q", "-i", archive)
		id := d.Docker(t, "create", "--network", "none",
			"--label", cluster.LabelApp+"="+app, "--label", cluster.LabelHost+"="+host,
			"--label", cluster.LabelRevision+"=3", "--label", cluster.LabelController+"=tls-test", img)
		list, err := e.List(ctx, host)
		if err != nil {
			t.Fatalf("List over TLS: %v", err)
		}
		if len(list) != 1 || list[0].ID != id || list[0].App != app || list[0].Revision != 3 || list[0].Running {
			t.Fatalf("List over TLS = %+v; want the one created container %s of %s, revision 3, not running", list, id, app)
		}
	})

	t.Run("Config", func(t *testing.T) {
		e := tlsEngines(t, docker.Config{Port: d.Port, TLS: d.ClientTLS(t)})
		if err := e.Ping(ctxFor(t, 20*time.Second), host); err != nil {
			t.Fatalf("Ping with a *tls.Config: %v", err)
		}
	})

	t.Run("WrongCA", func(t *testing.T) {
		// Certificates of another CA: the adapter must not trust the
		// daemon's certificate (and the daemon would not trust ours).
		other := testenv.NewTLSCerts(t, host)
		e := tlsEngines(t, docker.Config{Port: d.Port, CertPath: other.Dir})
		err := e.Ping(ctxFor(t, 20*time.Second), host)
		wantCode(t, err, cluster.EHOST, "127.0.0.5:2376", "certificate", "DOCKER_CERT_PATH", "ca.pem")
		t.Logf("wrong CA: %s", cluster.ErrorMessage(err))
	})

	t.Run("NoClientCertificate", func(t *testing.T) {
		// The right CA but no client certificate: the daemon refuses.
		e := tlsEngines(t, docker.Config{Port: d.Port, TLS: &tls.Config{RootCAs: d.Certs.RootCAs(), MinVersion: tls.VersionTLS12}})
		err := e.Ping(ctxFor(t, 20*time.Second), host)
		wantCode(t, err, cluster.EHOST, "127.0.0.5:2376", "certificate", "DOCKER_CERT_PATH", "cert.pem")
		t.Logf("no client certificate: %s", cluster.ErrorMessage(err))
	})

	t.Run("MissingFiles", func(t *testing.T) {
		e := tlsEngines(t, docker.Config{Port: d.Port, CertPath: t.TempDir()})
		err := e.Ping(ctxFor(t, 20*time.Second), host)
		wantCode(t, err, cluster.EHOST, "DOCKER_CERT_PATH")
		t.Logf("empty cert dir: %s", cluster.ErrorMessage(err))
	})

	t.Run("PlainHTTP", func(t *testing.T) {
		// TLS left off against a TLS daemon (DOCKER_TLS_VERIFY unset).
		e := tlsEngines(t, docker.Config{Port: d.Port})
		err := e.Ping(ctxFor(t, 20*time.Second), host)
		wantCode(t, err, cluster.EHOST, "127.0.0.5:2376", "DOCKER_TLS_VERIFY")
		t.Logf("plain HTTP: %s", cluster.ErrorMessage(err))
	})
}

func TestTLSToPlainDaemon(t *testing.T) {
	// TLS on (DOCKER_TLS_VERIFY=1) against a daemon without it.
	host := testenv.Hosts(t)[0]
	certs := testenv.NewTLSCerts(t, host)
	e := tlsEngines(t, docker.Config{Port: testenv.DockerPort(t), CertPath: certs.Dir})
	err := e.Ping(ctxFor(t, 20*time.Second), host)
	wantCode(t, err, cluster.EHOST, host, "does not speak TLS", "DOCKER_TLS_VERIFY")
	t.Logf("TLS to a plain daemon: %s", cluster.ErrorMessage(err))
}

func tlsEngines(t *testing.T, cfg docker.Config) *docker.Engines {
	t.Helper()
	cfg.Controller = "tls-test"
	cfg.Timeout = 15 * time.Second
	e := docker.New(cfg)
	t.Cleanup(func() { e.Close() })
	return e
}
