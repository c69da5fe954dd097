package http_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/http"
)

const testRouterToken = "router-s3cret-token"

// mustOpenCertServer is MustOpenServer with a router token.
func mustOpenCertServer(tb testing.TB) *TestServer {
	tb.Helper()
	return openServer(tb, serverSetup{configure: func(s *http.Server) { s.RouterToken = testRouterToken }})
}

// testCert makes a certificate for names valid from notBefore to notAfter,
// signed by a throwaway CA, and returns its PEM chain and key.
func testCert(tb testing.TB, names []string, notBefore, notAfter time.Time) (chain, key string) {
	tb.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"}, NotBefore: notBefore.Add(-time.Hour), NotAfter: notAfter.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names, NotBefore: notBefore, NotAfter: notAfter,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(leafKey)
	chain = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})) + string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	return chain, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
}

func certBody(domain, chain, key string) string {
	b, _ := json.Marshal(http.AddCertRequest{Domain: domain, Cert: chain, Key: key})
	return string(b)
}

// TestAddCertValidation sends POST /certs inputs each wrong in one way:
// every one is refused with a message naming the problem, and nothing is
// stored; the good ones are stored, wildcards covering one label.
func TestAddCertValidation(t *testing.T) {
	s := mustOpenCertServer(t)
	now := time.Now()
	good, goodKey := testCert(t, []string{"shop.example.com"}, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	_, otherKey := testCert(t, []string{"shop.example.com"}, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	expired, expiredKey := testCert(t, []string{"shop.example.com"}, now.Add(-90*24*time.Hour), now.Add(-time.Hour))
	future, futureKey := testCert(t, []string{"shop.example.com"}, now.Add(24*time.Hour), now.Add(90*24*time.Hour))
	wild, wildKey := testCert(t, []string{"*.example.com"}, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	rsaKeyPEM := "-----BEGIN RSA PRIVATE KEY-----\nnot base64 at all\n-----END RSA PRIVATE KEY-----\n"
	for _, c := range []struct {
		name, body, want string
	}{
		{"garbage certificate", certBody("shop.example.com", "hello, not a certificate", goodKey), "certificate is not PEM"},
		{"garbage key", certBody("shop.example.com", good, "not a key"), "private key is not PEM"},
		{"broken PEM key", certBody("shop.example.com", good, rsaKeyPEM), "is not PEM"},
		{"damaged certificate", certBody("shop.example.com", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", goodKey), "Certificate 1 of the chain does not parse"},
		{"key in the chain", certBody("shop.example.com", good+goodKey, goodKey), `"PRIVATE KEY" PEM block`},
		{"mismatched key", certBody("shop.example.com", good, otherKey), "private key does not match the certificate"},
		{"expired", certBody("shop.example.com", expired, expiredKey), "certificate expired on"},
		{"not yet valid", certBody("shop.example.com", future, futureKey), "not valid yet"},
		{"wrong name", certBody("blog.example.org", good, goodKey), "do not cover blog.example.org"},
		{"wildcard two labels down", certBody("a.b.example.com", wild, wildKey), "do not cover a.b.example.com"},
		{"wildcard for its apex", certBody("example.com", wild, wildKey), "do not cover example.com"},
		{"name for a wildcard domain", certBody("*.example.com", good, goodKey), "do not cover *.example.com"},
		{"no domain", certBody("", good, goodKey), `"domain" is missing`},
		{"bad domain", certBody("not a domain", good, goodKey), "is not a host name"},
		{"no key", certBody("shop.example.com", good, ""), `"key" is missing`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.MustFail(t, "POST", "/certs", c.body, 400, c.want)
			if certs, _ := s.DB.Certs(); len(certs) != 0 {
				t.Fatalf("a refused certificate was stored: %+v", certs)
			}
		})
	}
	s.MustOK(t, "POST", "/certs", certBody("shop.example.com", good, goodKey))
	s.MustOK(t, "POST", "/certs", certBody("api.example.com", wild, wildKey))
	s.MustOK(t, "POST", "/certs", certBody("*.example.com", wild, wildKey))
	certs, _ := s.DB.Certs()
	if len(certs) != 3 || certs[0].Domain != "*.example.com" || certs[2].Source != cluster.CertManual || certs[2].Issuer != "Test CA" {
		t.Fatalf("stored certificates %+v", certs)
	}
}

// TestCertRoutes turns HTTPS on, lists and deletes certificates, and checks
// the token roles: only the router token reads keys, and it reads nothing
// else but the routing table; no other answer carries a key or a chain.
func TestCertRoutes(t *testing.T) {
	s := mustOpenCertServer(t)
	s.MustOK(t, "POST", "/apps", `{"app": "shop.example.com"}`)
	s.MustFail(t, "POST", "/apps/shop.example.com/https", `{}`, 400, `"enabled" is missing`)
	out := s.MustOK(t, "POST", "/shop.example.com/https", `{"enabled": true}`)
	if h := out["https"].(map[string]any); h["enabled"] != true || h["redirect"] != true {
		t.Fatalf("https answer %v: want enabled with redirect by default", out)
	}
	out = s.MustOK(t, "GET", "/certs", "")
	if list := out["certs"].([]any); len(list) != 1 || list[0].(map[string]any)["status"] != "pending" {
		t.Fatalf("GET /certs with HTTPS on and no certificate yet = %v", out)
	}
	s.MustOK(t, "POST", "/apps/shop.example.com/https", `{"enabled": true, "redirect": false}`)
	if table, _ := s.DB.RoutingTable(); table.HTTPS["shop.example.com"].Redirect || len(table.HTTPS) != 1 {
		t.Fatalf("routing table https %+v, want shop.example.com without redirect", table.HTTPS)
	}
	now := time.Now()
	chain, key := testCert(t, []string{"shop.example.com"}, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	s.MustOK(t, "POST", "/certs", certBody("shop.example.com", chain, key))

	// Role split: the router token reads the table and the certificates.
	router := map[string]string{"Authorization": "Bearer " + testRouterToken}
	status, set := s.DoWith(t, "GET", "/router/certs", "", router)
	certs, _ := set["certs"].([]any)
	if status != 200 || len(certs) != 1 || certs[0].(map[string]any)["key"] != key || certs[0].(map[string]any)["cert"] != chain {
		t.Fatalf("GET /router/certs with the router token = %d %v", status, set)
	}
	table, _ := s.DB.RoutingTable()
	if v, _ := set["version"].(float64); uint64(v) != table.Certs || v == 0 {
		t.Fatalf("certificate set version %v, routing table's Certs %d", set["version"], table.Certs)
	}
	if status, _ := s.DoWith(t, "GET", "/routes", "", router); status != 200 {
		t.Fatalf("GET /routes with the router token = %d", status)
	}
	for _, r := range [][2]string{{"GET", "/apps"}, {"GET", "/certs"}, {"POST", "/certs"}, {"GET", "/backup"}, {"POST", "/apps/shop.example.com/https"}} {
		status, out := s.DoWith(t, r[0], r[1], "{}", router)
		if msg, _ := out["error"].(string); status != 403 || !strings.Contains(msg, "router token reads only") {
			t.Errorf("%s %s with the router token = %d %v, want 403", r[0], r[1], status, out)
		}
	}
	s.MustFail(t, "GET", "/router/certs", "", 403, "takes the router token")
	if status, _ := s.DoWith(t, "GET", "/router/certs", "", map[string]string{"X-Auth": "wrong-token-wrong"}); status != 401 {
		t.Fatalf("GET /router/certs with a wrong token = %d, want 401", status)
	}

	// No answer but /router/certs carries a key or a chain.
	for _, p := range []string{"/certs", "/apps/shop.example.com", "/describe", "/routes", "/apps"} {
		_, body := s.raw(t, p)
		if strings.Contains(body, "PRIVATE KEY") || strings.Contains(body, "CERTIFICATE") {
			t.Errorf("GET %s carries a key or a certificate: %s", p, body)
		}
	}
	out = s.MustOK(t, "GET", "/certs", "")
	if c := out["certs"].([]any)[0].(map[string]any); c["status"] != "valid" || c["issuer"] != "Test CA" || c["source"] != "manual" || c["not_after"] == nil {
		t.Fatalf("GET /certs = %v", out)
	}
	s.MustFail(t, "DELETE", "/certs/blog.example.com", "", 404, "No certificate for blog.example.com")
	s.MustOK(t, "DELETE", "/certs/shop.example.com", "")
	if certs, _ := s.DB.Certs(); len(certs) != 0 {
		t.Fatalf("certificates after DELETE: %+v", certs)
	}
	s.MustOK(t, "POST", "/apps/shop.example.com/https", `{"enabled": false}`)
	if table, _ := s.DB.RoutingTable(); len(table.HTTPS) != 0 {
		t.Fatalf("routing table https %+v after HTTPS off", table.HTTPS)
	}
}
