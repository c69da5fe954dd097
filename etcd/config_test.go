package etcd_test

import (
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/etcd"
)

func TestParseURL(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	for _, c := range []struct {
		url, want, err string
	}{
		{"etcd://127.0.0.1:2379,127.0.0.2:2379/longshoreman", "etcd://127.0.0.1:2379,127.0.0.2:2379/longshoreman", ""},
		{"etcd://h:2379/a/b/", "etcd://h:2379/a/b", ""},
		{"etcd://h:2379", "", "prefix"},
		{"etcd://h:2379/", "", "prefix"},
		{"etcd://u:p@h:2379/x", "", "LONGSHOREMAN_ETCD_USERNAME"},
		{"etcd://h:2379,,h2:2379/x", "", "empty"},
		{"redis://h/x", "", "scheme"},
		{"etcds://h:2379/x", "etcds://h:2379/x", ""},
	} {
		cfg, err := etcd.ParseURL(c.url, getenv)
		if c.err != "" {
			if err == nil || !strings.Contains(cluster.ErrorMessage(err), c.err) || cluster.ErrorCode(err) != cluster.EINVALID {
				t.Errorf("%s: %v, want EINVALID mentioning %q", c.url, err, c.err)
			}
			continue
		}
		if err != nil || cfg.String() != c.want {
			t.Errorf("%s: %v, %v; want %s", c.url, cfg, err, c.want)
		}
	}
	env["LONGSHOREMAN_ETCD_CERT"] = "/nonexistent.pem"
	if _, err := etcd.ParseURL("etcds://h:2379/x", getenv); err == nil || !strings.Contains(cluster.ErrorMessage(err), "LONGSHOREMAN_ETCD_KEY") {
		t.Errorf("a cert without a key: %v", err)
	}
	env["LONGSHOREMAN_ETCD_USERNAME"], env["LONGSHOREMAN_ETCD_PASSWORD"] = "root", "pw"
	delete(env, "LONGSHOREMAN_ETCD_CERT")
	if cfg, err := etcd.ParseURL("etcd://h:2379/x", getenv); err != nil || cfg.Username != "root" || cfg.Password != "pw" {
		t.Errorf("user from the environment: %+v, %v", cfg, err)
	}
}
