package http_test

import (
	"strings"
	"testing"
	"time"
)

// TestBackupKeysOnlyWhenAsked: GET /backup with the API token leaves the
// private keys out (a certificate's key, the router token, the routes
// key); ?keys=true carries them; any other value of keys is a 400 saying
// what to give, and the router token reads no backup at all.
func TestBackupKeysOnlyWhenAsked(t *testing.T) {
	s := mustOpenCertServer(t)
	now := time.Now()
	chain, key := testCert(t, []string{"shop.example.com"}, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	s.MustOK(t, "POST", "/certs", certBody("shop.example.com", chain, key))
	routesKey, _, err := s.DB.EnsureRoutesKey()
	if err != nil {
		t.Fatal(err)
	}
	routerToken, _, err := s.DB.EnsureRouterToken()
	if err != nil {
		t.Fatal(err)
	}
	keyBody := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(key), "-----BEGIN PRIVATE KEY-----"), "-----END PRIVATE KEY-----")
	secrets := map[string]string{"the certificate's key": strings.Split(strings.TrimSpace(keyBody), "\n")[0], "the routes key": routesKey, "the router token": routerToken}

	status, without := s.raw(t, "/backup")
	if status != 200 || !strings.Contains(without, "BEGIN CERTIFICATE") {
		t.Fatalf("GET /backup = %d, %d bytes, chain in it: %v", status, len(without), strings.Contains(without, "BEGIN CERTIFICATE"))
	}
	status, with := s.raw(t, "/backup?keys=true")
	if status != 200 {
		t.Fatalf("GET /backup?keys=true = %d", status)
	}
	for what, secret := range secrets {
		if strings.Contains(without, secret) {
			t.Errorf("GET /backup carries %s", what)
		}
		if !strings.Contains(with, secret) {
			t.Errorf("GET /backup?keys=true lacks %s", what)
		}
	}
	if strings.Contains(without, "PRIVATE KEY") {
		t.Error("GET /backup carries a PEM private key")
	}
	s.MustFail(t, "GET", "/backup?keys=yes", "", 400, "keys=true")
	if status, _ := s.DoWith(t, "GET", "/backup?keys=true", "", map[string]string{"Authorization": "Bearer " + testRouterToken}); status != 403 {
		t.Errorf("GET /backup?keys=true with the router token = %d, want 403", status)
	}
}
