package etcd

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/longshoreman/longshoreman/cluster"
)

// IsURL reports whether db names an etcd store rather than a data file.
func IsURL(db string) bool {
	return strings.HasPrefix(db, "etcd://") || strings.HasPrefix(db, "etcds://")
}

// ParseURL reads etcd://HOST:PORT[,HOST:PORT...]/PREFIX (etcds:// for TLS)
// into a Config, taking the TLS files from LONGSHOREMAN_ETCD_CACERT,
// LONGSHOREMAN_ETCD_CERT and LONGSHOREMAN_ETCD_KEY and the etcd user from
// LONGSHOREMAN_ETCD_USERNAME and LONGSHOREMAN_ETCD_PASSWORD, read through
// getenv (not etcd's own ETCD_* names, which an etcd member started in the
// same environment would read).
func ParseURL(raw string, getenv func(string) string) (Config, error) {
	bad := func(format string, args ...any) (Config, error) {
		return Config{}, cluster.Errorf(cluster.EINVALID, "LONGSHOREMAN_DB %q: "+format+" Write it as etcd://HOST:PORT[,HOST:PORT...]/PREFIX, e.g. etcd://127.0.0.1:2379/longshoreman.", append([]any{raw}, args...)...)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("%v.", err)
	}
	if u.Scheme != "etcd" && u.Scheme != "etcds" {
		return bad("the scheme must be etcd or etcds.")
	}
	if u.User != nil {
		return bad("put no user in the URL; give it in LONGSHOREMAN_ETCD_USERNAME and LONGSHOREMAN_ETCD_PASSWORD.")
	}
	var cfg Config
	for _, h := range strings.Split(u.Host, ",") {
		if h == "" {
			return bad("an endpoint is empty.")
		}
		scheme := "http://"
		if u.Scheme == "etcds" {
			scheme = "https://"
		}
		cfg.Endpoints = append(cfg.Endpoints, scheme+h)
	}
	if cfg.Prefix = strings.Trim(u.Path, "/"); cfg.Prefix == "" {
		return bad("the key prefix (the path) is missing.")
	}
	cfg.Prefix = "/" + cfg.Prefix
	cfg.Username, cfg.Password = getenv("LONGSHOREMAN_ETCD_USERNAME"), getenv("LONGSHOREMAN_ETCD_PASSWORD")
	ca, cert, key := getenv("LONGSHOREMAN_ETCD_CACERT"), getenv("LONGSHOREMAN_ETCD_CERT"), getenv("LONGSHOREMAN_ETCD_KEY")
	if u.Scheme == "etcd" {
		if ca != "" || cert != "" {
			return bad("LONGSHOREMAN_ETCD_CACERT or _CERT is set but the scheme is etcd://; use etcds:// for TLS.")
		}
		return cfg, nil
	}
	cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return Config{}, cluster.Errorf(cluster.EINVALID, "Cannot read LONGSHOREMAN_ETCD_CACERT %s (%v): give the PEM file of the CA that signed etcd's certificates.", ca, err)
		}
		cfg.TLS.RootCAs = x509.NewCertPool()
		if !cfg.TLS.RootCAs.AppendCertsFromPEM(pem) {
			return Config{}, cluster.Errorf(cluster.EINVALID, "LONGSHOREMAN_ETCD_CACERT %s holds no PEM certificate: give the CA's certificate.", ca)
		}
	}
	if (cert == "") != (key == "") {
		return Config{}, cluster.Errorf(cluster.EINVALID, "Give both LONGSHOREMAN_ETCD_CERT and LONGSHOREMAN_ETCD_KEY (a client certificate and its key), or neither.")
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return Config{}, cluster.Errorf(cluster.EINVALID, "Cannot load LONGSHOREMAN_ETCD_CERT %s and LONGSHOREMAN_ETCD_KEY %s (%v): give PEM files that belong together.", cert, key, err)
		}
		cfg.TLS.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// String returns the store's URL without credentials, for logs.
func (c Config) String() string {
	scheme := "etcd"
	if c.TLS != nil {
		scheme = "etcds"
	}
	hosts := make([]string, len(c.Endpoints))
	for i, e := range c.Endpoints {
		hosts[i] = e[strings.Index(e, "://")+3:]
	}
	return fmt.Sprintf("%s://%s%s", scheme, strings.Join(hosts, ","), c.Prefix)
}
