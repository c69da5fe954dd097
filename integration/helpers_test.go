package integration

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/command"
	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds the longshoreman binary once per test run.
func Binary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "longshoreman-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "longshoreman")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/longshoreman/longshoreman").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

// fillDataFile writes apps with large envs into a new data file at path
// until it holds about size bytes.
func fillDataFile(t *testing.T, path string, size int64) {
	t.Helper()
	d, err := db.Open(path, db.Options{Create: true, SecretsKey: testSecretsKey})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	value := strings.Repeat("x", cluster.MaxEnvValueLength)
	for i := 0; d.Size() < size; i++ {
		name := fmt.Sprintf("fill%d.example.com", i)
		if _, err := d.CreateApp(name); err != nil {
			t.Fatal(err)
		}
		if _, err := d.UpdateApp(name, func(a *cluster.App) error {
			a.Envs["A"], a.Envs["B"] = value, value
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// routerTestCert returns a PEM certificate and key for domain, its own root.
func routerTestCert(t *testing.T, domain string) (certPEM, keyPEM string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: domain}, DNSNames: []string{domain},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	cert, _ = x509.ParseCertificate(der)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})), cert
}

// serveWith runs the controller in-process like MustServe, with its log in
// the returned buffer and the timeouts given.
func serveWith(t *testing.T, env map[string]string, timeouts command.ServerTimeouts) (*command.ServeCommand, *testenv.Log) {
	t.Helper()
	base := map[string]string{"LONGSHOREMAN_TOKEN": "t0ken-0123456789", "LONGSHOREMAN_LISTEN": "127.0.0.1:0", "REDIS_PORT": "1", "LONGSHOREMAN_INIT": "1",
		cluster.SecretsKeyVar: testSecretsKey}
	if env["LONGSHOREMAN_DB"] == "" {
		base["LONGSHOREMAN_DB"] = filepath.Join(t.TempDir(), "ls.db")
	}
	for k, v := range env {
		base[k] = v
	}
	log := &testenv.Log{}
	c := mustOpenServe(t, base, log, func(cfg *command.ServeConfig) { cfg.Timeouts = timeouts })
	return c, log
}

// uiToken is the token of the controllers serveWith starts.
const uiToken = "t0ken-0123456789"

// serveUI runs the controller in-process against the real hosts and
// Redis, with short intervals so that repairs show within seconds.
func serveUI(t *testing.T, env map[string]string) (*command.ServeCommand, *testenv.Log) {
	t.Helper()
	redisHost, redisPort, _ := strings.Cut(testenv.Redis(t), ":")
	base := map[string]string{
		"REDIS_HOST": redisHost, "REDIS_PORT": redisPort,
		"LONGSHOREMAN_CHANNEL":        fmt.Sprintf("longshoreman.test.ui.%d", time.Now().UnixNano()),
		"LONGSHOREMAN_DRAIN":          "200ms",
		"LONGSHOREMAN_RECONCILE":      "2s",
		"LONGSHOREMAN_PROBE_INTERVAL": "1s",
	}
	for k, v := range env {
		base[k] = v
	}
	return serveWith(t, base, command.ServerTimeouts{})
}

// slowBackupReader starts GET /backup on a connection with a small receive
// buffer and reads it at about 2 KB/s until the test ends. It returns the
// count of body bytes read so far.
func slowBackupReader(t *testing.T, baseURL string) *atomic.Int64 {
	t.Helper()
	dialer := net.Dialer{Control: func(_, _ string, raw syscall.RawConn) error {
		var serr error
		err := raw.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := dialer.Dial("tcp", strings.TrimPrefix(baseURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /backup HTTP/1.1\r\nHost: x\r\nX-Auth: t0ken-0123456789\r\n\r\n")
	br := bufio.NewReaderSize(conn, 2048)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /backup: %v %v", resp, err)
	}
	var read atomic.Int64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		buf := make([]byte, 2048)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			n, err := io.ReadFull(resp.Body, buf)
			read.Add(int64(n))
			if err != nil {
				return
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() {
		close(done)
		conn.Close()
		<-stopped
	})
	return &read
}
