package cli_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for name and its key to
// files, and returns their paths.
func writeCert(t *testing.T, name string) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		Issuer: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

// TestHTTPSAndCerts drives https:on, https:off, certs, certs:add and
// certs:rm against a real controller.
func TestHTTPSAndCerts(t *testing.T) {
	t.Parallel()
	u := newUser(t)

	u.none([]string{"certs"}, "No certificates")
	u.ok("apps:add", "shop.example.com")
	if out := u.ok("https:on", "shop.example.com"); !strings.Contains(out, "HTTPS on for shop.example.com (plain HTTP is redirected to HTTPS)") {
		t.Errorf("https:on: %q", out)
	}
	if out := u.ok("https:on", "shop.example.com", "--no-redirect"); !strings.Contains(out, "plain HTTP is served too") {
		t.Errorf("https:on --no-redirect: %q", out)
	}
	out := u.ok("certs")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "DOMAIN") ||
		!strings.Contains(lines[1], "shop.example.com") || !strings.Contains(lines[1], "pending") {
		t.Errorf("certs with HTTPS on and no certificate: %q", out)
	}
	u.fails([]string{"https:on", "nope.example.com"}, "App nope.example.com does not exist")

	certFile, keyFile := writeCert(t, "shop.example.com")
	_, otherKey := writeCert(t, "shop.example.com")
	u.fails([]string{"certs:add", "shop.example.com", "--cert", certFile, "--key", otherKey}, "The private key does not match the certificate")
	u.fails([]string{"certs:add", "blog.example.com", "--cert", certFile, "--key", keyFile}, "do not cover blog.example.com")
	u.fails([]string{"certs:add", "shop.example.com", "--cert", "/nonexistent.pem", "--key", keyFile}, "cannot read the certificate file")
	u.fails([]string{"certs:add", "shop.example.com", "--key", keyFile}, "--cert")
	if out := u.ok("certs:add", "shop.example.com", "--cert", certFile, "--key", keyFile); !strings.Contains(out, "Stored the certificate for shop.example.com (issuer shop.example.com") {
		t.Errorf("certs:add: %q", out)
	}
	out = u.ok("certs")
	if !strings.Contains(out, "manual") || !strings.Contains(out, "valid") || strings.Contains(out, "PRIVATE KEY") || strings.Contains(out, "CERTIFICATE") {
		t.Errorf("certs after certs:add: %q", out)
	}
	u.fails([]string{"certs:rm", "blog.example.com"}, "No certificate for blog.example.com: list them with longshoreman certs")
	u.ok("certs:rm", "shop.example.com")
	if out := u.ok("https:off", "shop.example.com"); !strings.Contains(out, "HTTPS off for shop.example.com") {
		t.Errorf("https:off: %q", out)
	}
	if r := u.run("certs"); r.Stdout != "" {
		t.Errorf("certs after certs:rm and https:off: %q", r.Stdout)
	}
}
