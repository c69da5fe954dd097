package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TLSCerts is a throwaway PKI written by the test: one CA, a server
// certificate for the given IP addresses and a client certificate, both
// signed by that CA. Dir is laid out as Docker's DOCKER_CERT_PATH (ca.pem,
// cert.pem, key.pem for the client) plus server-cert.pem and server-key.pem
// for dockerd's --tlscert and --tlskey.
type TLSCerts struct {
	Dir string
	ca  *x509.Certificate
}

// NewTLSCerts generates a CA, a server certificate valid for ips and a
// client certificate into a fresh temporary directory. Each call makes a
// new CA, so the files of one call do not verify against another's: that
// is how a test gets a "wrong CA".
func NewTLSCerts(tb testing.TB, ips ...string) *TLSCerts {
	tb.Helper()
	dir := tb.TempDir()
	caKey := newKey(tb)
	caSerial := serial(tb)
	caTmpl := &x509.Certificate{
		SerialNumber:          caSerial,
		Subject:               pkix.Name{CommonName: "longshoreman test CA " + caSerial.Text(16)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		tb.Fatalf("create the test CA: %v", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		tb.Fatal(err)
	}
	writePEM(tb, filepath.Join(dir, "ca.pem"), "CERTIFICATE", caDER)

	leaf := func(name string, usage x509.ExtKeyUsage, certFile, keyFile string) {
		key := newKey(tb)
		tmpl := &x509.Certificate{
			SerialNumber: serial(tb),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		if usage == x509.ExtKeyUsageServerAuth {
			for _, s := range ips {
				ip := net.ParseIP(s)
				if ip == nil {
					tb.Fatalf("NewTLSCerts: %q is not an IP address", s)
				}
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
		if err != nil {
			tb.Fatalf("create the %s certificate: %v", name, err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			tb.Fatal(err)
		}
		writePEM(tb, filepath.Join(dir, certFile), "CERTIFICATE", der)
		writePEM(tb, filepath.Join(dir, keyFile), "PRIVATE KEY", keyDER)
	}
	leaf("dockerd", x509.ExtKeyUsageServerAuth, "server-cert.pem", "server-key.pem")
	leaf("longshoreman", x509.ExtKeyUsageClientAuth, "cert.pem", "key.pem")
	return &TLSCerts{Dir: dir, ca: ca}
}

// RootCAs returns a pool holding only the CA, for a *tls.Config that
// verifies the server but presents no client certificate.
func (c *TLSCerts) RootCAs() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(c.ca)
	return pool
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

func serial(tb testing.TB) *big.Int {
	tb.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func writePEM(tb testing.TB, path, typ string, der []byte) {
	tb.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// TLSHost and TLSPort are where StartTLSDockerd listens: a loopback
// address of its own (not one of the shared test hosts) and Docker's TLS
// port.
const (
	TLSHost = "127.0.0.5"
	TLSPort = 2376
)

// tlsRootPrefix names the temporary directories of TLS dockerds.
const tlsRootPrefix = "lstls"

// TLSDockerd is a second, TLS-only dockerd owned by one test.
type TLSDockerd struct {
	Host   string    // IP it listens on with TLS
	Port   int       // TLS port
	Certs  *TLSCerts // its CA and a client certificate the daemon accepts
	Socket string    // plain unix socket, for checks that bypass TLS
	Log    string    // dockerd's log file
}

// StartTLSDockerd starts a dockerd that answers only with TLS and client
// verification (--tlsverify) on TLSHost:TLSPort, with certificates from
// NewTLSCerts. It is stopped, and its files removed, when the test ends,
// also when the test fails; if the test process dies, the kernel sends it
// SIGTERM.
//
// It must not disturb the shared test daemon: a dockerd started with
// --bridge none deletes the docker0 interface of its network namespace,
// which the shared daemon's containers need. So it runs in a network
// namespace of its own, and its TLS port is a socket opened here, in the
// test's namespace, and handed over as systemd socket activation does
// (-H fd://). Its containers have no network (no bridge, no iptables);
// the unix socket (a file, usable from any namespace) lets a test use the
// docker CLI on it without TLS.
//
// It needs what scripts/services provides (the test env) and root; without
// them the test fails.
func StartTLSDockerd(tb testing.TB) *TLSDockerd {
	tb.Helper()
	need(tb, EnvDockerHost, "a test dockerd (and the rights to start a second one)")
	if _, err := exec.LookPath("dockerd"); err != nil {
		tb.Fatalf("dockerd not found in PATH: %v", err)
	}
	if os.Geteuid() != 0 {
		tb.Fatal("starting a second dockerd needs root: run the integration tests as root")
	}
	lnFile := tlsListener(tb)
	defer lnFile.Close() // dockerd has its own copy once started

	// A short root: the exec-root holds containerd's unix sockets, whose
	// paths must stay under 108 bytes.
	root, err := os.MkdirTemp("", tlsRootPrefix)
	if err != nil {
		tb.Fatal(err)
	}
	d := &TLSDockerd{
		Host: TLSHost, Port: TLSPort,
		Certs:  NewTLSCerts(tb, TLSHost),
		Socket: filepath.Join(root, "d.sock"),
		Log:    filepath.Join(root, "dockerd.log"),
	}
	logf, err := os.Create(d.Log)
	if err != nil {
		os.RemoveAll(root)
		tb.Fatal(err)
	}
	dataRoot := filepath.Join(root, "data")
	cmd := tlsDockerdCommand(d, root, dataRoot, lnFile, logf)
	if err := cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(root)
		tb.Fatalf("start dockerd: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("TLS dockerd log (last lines):\n%s", tail(d.Log, 30))
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			tb.Logf("TLS dockerd (pid %d) did not stop in 15s; killing it", cmd.Process.Pid)
			_ = cmd.Process.Kill()
			<-exited
		}
		logf.Close()
		// dockerd bind-mounts its data root to make it shared and unmounts
		// it on a clean stop; after a kill the mount is still there.
		_ = syscall.Unmount(dataRoot, syscall.MNT_DETACH)
		if err := os.RemoveAll(root); err != nil {
			tb.Errorf("removing the TLS dockerd's files: %v", err)
		}
	})

	waitTLSDockerd(tb, d, exited)
	return d
}

// tlsListener opens the TLS dockerd's port in the test's network
// namespace, as a file to hand over, and removes the files of a TLS
// dockerd whose test binary was killed.
func tlsListener(tb testing.TB) *os.File {
	tb.Helper()
	addr := Addr(TLSHost, TLSPort)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatalf("cannot listen on %s for the TLS dockerd (one left by a killed test?): %v", addr, err)
	}
	lnFile, err := ln.(*net.TCPListener).File()
	ln.Close() // lnFile holds the socket
	if err != nil {
		tb.Fatal(err)
	}

	// Holding the port means no other TLS dockerd of ours runs: the files
	// of one whose test binary was killed (Pdeathsig stopped the daemon,
	// nothing removed its files) can go.
	stale, _ := filepath.Glob(filepath.Join(os.TempDir(), tlsRootPrefix+"*"))
	for _, dir := range stale {
		_ = syscall.Unmount(filepath.Join(dir, "data"), syscall.MNT_DETACH)
		_ = os.RemoveAll(dir)
	}

	return lnFile
}

// tlsDockerdCommand is the TLS dockerd's command: its TLS port the socket
// lnFile (as systemd socket activation passes it), its files under root,
// its output to logf.
func tlsDockerdCommand(d *TLSDockerd, root, dataRoot string, lnFile, logf *os.File) *exec.Cmd {
	// sh only sets LISTEN_PID to its own pid, which dockerd keeps by exec.
	cmd := exec.Command("sh", "-c", `export LISTEN_PID=$$ LISTEN_FDS=1; exec dockerd "$@"`, "dockerd",
		"--tlsverify",
		"--tlscacert", filepath.Join(d.Certs.Dir, "ca.pem"),
		"--tlscert", filepath.Join(d.Certs.Dir, "server-cert.pem"),
		"--tlskey", filepath.Join(d.Certs.Dir, "server-key.pem"),
		"-H", "fd://",
		"-H", "unix://"+d.Socket,
		"--data-root", dataRoot,
		"--exec-root", filepath.Join(root, "exec"),
		"--pidfile", filepath.Join(root, "dockerd.pid"),
		"--bridge", "none",
		"--iptables=false",
		"--ip-masq=false",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{lnFile} // fd 3, as socket activation passes it
	// A network namespace of its own (see above); its own process group,
	// so a ^C to `go test` reaches it only through Cleanup; Pdeathsig
	// stops it if the test binary dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNET,
		Setpgid:    true,
		Pdeathsig:  syscall.SIGTERM,
	}
	return cmd
}

// waitTLSDockerd waits until the TLS dockerd answers on its unix socket;
// it fails the test when the daemon exits first or takes over 20s.
func waitTLSDockerd(tb testing.TB, d *TLSDockerd, exited <-chan struct{}) {
	tb.Helper()
	unix := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", d.Socket)
		},
	}}
	defer unix.CloseIdleConnections()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-exited:
			tb.Fatalf("the TLS dockerd exited at start:\n%s", tail(d.Log, 30))
		default:
		}
		if up(unix) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the TLS dockerd did not answer on %s within 20s:\n%s", d.Socket, tail(d.Log, 30))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Docker runs the docker CLI against the TLS daemon through its unix
// socket (no TLS) and returns its combined output; it fails the test when
// the command fails.
func (d *TLSDockerd) Docker(tb testing.TB, args ...string) string {
	tb.Helper()
	cmd := exec.Command("docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+d.Socket, "DOCKER_TLS_VERIFY=", "DOCKER_CERT_PATH=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("docker %s (TLS daemon): %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func up(c *http.Client) bool {
	resp, err := c.Get("http://docker/_ping")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ClientTLS returns a *tls.Config that trusts the daemon's CA and
// presents the client certificate, as DOCKER_CERT_PATH=Certs.Dir would.
func (d *TLSDockerd) ClientTLS(tb testing.TB) *tls.Config {
	tb.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(d.Certs.Dir, "cert.pem"), filepath.Join(d.Certs.Dir, "key.pem"))
	if err != nil {
		tb.Fatal(err)
	}
	return &tls.Config{RootCAs: d.Certs.RootCAs(), Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// String names the daemon's TLS endpoint, for messages.
func (d *TLSDockerd) String() string { return "tcp://" + Addr(d.Host, d.Port) + " (TLS)" }
