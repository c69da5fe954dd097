package command

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/certs"
)

var (
	setACMEEmail        = setting{"acme-email", "LONGSHOREMAN_ACME_EMAIL", "contact of the ACME account; setting it turns on certificates for the apps with HTTPS on"}
	setACMEDirectory    = setting{"acme-directory", "LONGSHOREMAN_ACME_DIRECTORY", "ACME directory URL of the CA (RFC 8555); empty: Let's Encrypt production, " + certs.LetsEncrypt}
	setACMECA           = setting{"acme-ca", "LONGSHOREMAN_ACME_CA", "PEM file of a CA to trust for the ACME directory's HTTPS (a private CA), besides the system's"}
	setPrintRouterToken = setting{"router", "", "print the router token (the routers' LONGSHOREMAN_ROUTER_TOKEN), making it when there is none, instead of the API token"}
	setServeRouterToken = setting{"", "LONGSHOREMAN_ROUTER_TOKEN", ""}
	setACMERenewBefore  = setting{"acme-renew-before", "LONGSHOREMAN_ACME_RENEW_BEFORE", "renew a certificate once less than this remains of it; 0: once a third of its lifetime remains"}
)

// ACMEConfig is how the controller obtains certificates (off while Email
// is empty) and hands them to the routers.
type ACMEConfig struct {
	Email       string
	Directory   string
	CA          string // PEM file trusted for the directory's TLS
	RenewBefore time.Duration
	// RouterToken replaces the stored router token: on an etcd store,
	// which `token --router` does not read, the operator gives it.
	RouterToken string
}

func (c *ACMEConfig) load(l *loader) {
	l.String(&c.Email, setACMEEmail)
	l.String(&c.Directory, setACMEDirectory)
	l.String(&c.CA, setACMECA)
	l.Duration(&c.RenewBefore, setACMERenewBefore)
	l.String(&c.RouterToken, setServeRouterToken)
}

func (c ACMEConfig) check(p *problems) {
	if c.Email != "" && (!strings.Contains(c.Email, "@") || strings.ContainsAny(c.Email, " \t,")) {
		p.add(setACMEEmail, "is %q: give one e-mail address, e.g. ops@example.com", c.Email)
	}
	if u, err := url.Parse(c.Directory); c.Directory != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
		p.add(setACMEDirectory, "is %q: give the CA's directory URL, e.g. %s", c.Directory, certs.LetsEncrypt)
	}
	if c.CA != "" {
		if _, err := c.pool(); err != nil {
			p.add(setACMECA, "%v", err)
		}
	}
	if n := len(c.RouterToken); n > 0 && n < MinTokenLength {
		p.add(setServeRouterToken, "is %d characters long; use at least %d random ones (e.g. from openssl rand -hex 24), or unset it to have one generated", n, MinTokenLength)
	}
	if c.RenewBefore < 0 {
		p.add(setACMERenewBefore, "is %s: give 0 (a third of the lifetime) or a duration such as 720h", c.RenewBefore)
	}
}

// pool returns the system's CAs with the one of c.CA added.
func (c ACMEConfig) pool() (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if c.CA == "" {
		return pool, nil
	}
	pemBytes, err := os.ReadFile(c.CA)
	if err != nil {
		return nil, fmt.Errorf("cannot be read (%v): give the path of a PEM file of the CA that signed the directory's certificate", err)
	}
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("is %s, which holds no PEM certificate: give the CA's certificate in PEM", c.CA)
	}
	return pool, nil
}

// client returns the HTTP client for the CA.
func (c ACMEConfig) client() (*http.Client, error) {
	pool, err := c.pool()
	if err != nil {
		return nil, fmt.Errorf("%s %v", setACMECA, err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: time.Minute}, nil
}

// openCerts makes the certificate manager when an ACME e-mail is set; the
// leader runs it (lead).
func (c *ServeCommand) openCerts(cfg ACMEConfig) error {
	if cfg.Email == "" {
		c.logger.Info("ACME off: set LONGSHOREMAN_ACME_EMAIL to obtain certificates for the apps with HTTPS on; certificates added with POST /certs are served")
		return nil
	}
	client, err := cfg.client()
	if err != nil {
		return err
	}
	c.certs = certs.New(certs.Config{
		Store: c.db, Email: cfg.Email, Directory: cfg.Directory, Client: client, RenewBefore: cfg.RenewBefore,
		Changed: c.publisher.Changed, Published: func() uint64 { return c.publisher.Status().LastVersion },
		Logger: c.logger, Events: c.events.Publish,
	})
	return nil
}

// tableChanged publishes the routing table after an API write it shows (an
// app's HTTPS, a certificate) and lets the certificate manager look.
func (c *ServeCommand) tableChanged() {
	c.publisher.Changed()
	if c.certs != nil {
		c.certs.Kick()
	}
}
