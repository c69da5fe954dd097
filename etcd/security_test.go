//go:build integration

package etcd_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/etcd"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/storetest"
)

// openURL opens the store of an etcd URL with env as the environment.
func openURL(t *testing.T, url string, env map[string]string) (*etcd.Store, error) {
	t.Helper()
	cfg, err := etcd.ParseURL(url, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Create, cfg.Timeout, cfg.SecretsKey = true, 5*time.Second, storetest.SecretsKey
	return etcd.Open(cfg)
}

// TestAuth: on an etcd with auth enabled the store opens with the user of
// LONGSHOREMAN_ETCD_USERNAME and _PASSWORD, and a wrong password is
// refused with a message naming those variables.
func TestAuth(t *testing.T) {
	c := testenv.StartEtcd(t)
	admin := client(t, c.Endpoints)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, step := range []func() error{
		func() error { _, err := admin.UserAdd(ctx, "root", "root-password"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := admin.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	url := "etcd://" + strings.Join(c.Endpoints, ",") + "/longshoreman"
	s, err := openURL(t, url, map[string]string{"LONGSHOREMAN_ETCD_USERNAME": "root", "LONGSHOREMAN_ETCD_PASSWORD": "root-password"})
	if err != nil {
		t.Fatalf("open with the right user: %v", err)
	}
	if _, err := s.CreateApp("a.example.com"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = openURL(t, url, map[string]string{"LONGSHOREMAN_ETCD_USERNAME": "root", "LONGSHOREMAN_ETCD_PASSWORD": "wrong"})
	if cluster.ErrorCode(err) != cluster.EUNAVAILABLE || !strings.Contains(cluster.ErrorMessage(err), "LONGSHOREMAN_ETCD_PASSWORD") {
		t.Fatalf("open with a wrong password: %v, want a refusal naming LONGSHOREMAN_ETCD_PASSWORD", err)
	}
}

// TestTLS: an etcds:// store opens with the CA, client certificate and key
// of LONGSHOREMAN_ETCD_CACERT, _CERT and _KEY; without the client
// certificate, or trusting another CA, it is refused.
func TestTLS(t *testing.T) {
	certs := testenv.NewTLSCerts(t, "127.0.0.1")
	c := testenv.StartEtcdTLS(t, certs)
	url := "etcds://" + strings.Join(c.Endpoints, ",") + "/longshoreman"
	env := map[string]string{
		"LONGSHOREMAN_ETCD_CACERT": filepath.Join(certs.Dir, "ca.pem"),
		"LONGSHOREMAN_ETCD_CERT":   filepath.Join(certs.Dir, "cert.pem"),
		"LONGSHOREMAN_ETCD_KEY":    filepath.Join(certs.Dir, "key.pem"),
	}
	s, err := openURL(t, url, env)
	if err != nil {
		t.Fatalf("open over TLS: %v", err)
	}
	if _, err := s.CreateApp("a.example.com"); err != nil {
		t.Fatal(err)
	}
	s.Close()

	other := testenv.NewTLSCerts(t, "127.0.0.1")
	for name, e := range map[string]map[string]string{
		"no client certificate": {"LONGSHOREMAN_ETCD_CACERT": env["LONGSHOREMAN_ETCD_CACERT"]},
		"another CA":            {"LONGSHOREMAN_ETCD_CACERT": filepath.Join(other.Dir, "ca.pem"), "LONGSHOREMAN_ETCD_CERT": env["LONGSHOREMAN_ETCD_CERT"], "LONGSHOREMAN_ETCD_KEY": env["LONGSHOREMAN_ETCD_KEY"]},
	} {
		if s, err := openURL(t, url, e); err == nil {
			s.Close()
			t.Errorf("%s: open succeeded", name)
		} else if cluster.ErrorCode(err) != cluster.EUNAVAILABLE || !strings.Contains(cluster.ErrorMessage(err), "LONGSHOREMAN_ETCD_CACERT") {
			t.Errorf("%s: %v, want EUNAVAILABLE naming the TLS settings", name, err)
		}
	}
	// The plain scheme on a TLS cluster does not connect either.
	plain, _ := etcd.ParseURL("etcd://"+strings.Join(c.Endpoints, ",")+"/longshoreman", func(string) string { return "" })
	plain.Timeout, plain.SecretsKey = 3*time.Second, storetest.SecretsKey
	if s, err := etcd.Open(plain); err == nil {
		s.Close()
		t.Error("etcd:// on a TLS cluster opened")
	}
}
