package cluster

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"time"
)

// OpCerts lists the certificates, as a Fix may name it (see Ops).
const OpCerts = "certs"

func init() { Ops = append(Ops, OpCerts) }

// RecordCert is the record kind of certificates: Key is the domain.
const RecordCert = "certs"

// Certificate sources.
const (
	CertACME   = "acme"   // obtained and renewed by the controller
	CertManual = "manual" // given with POST /certs; never renewed
)

// Cert is one domain's certificate and its state: what the routers serve
// (Chain and Key, empty until one was obtained) and, for an ACME one, how
// obtaining or renewing it went. Chain and Key never leave the controller
// except to the routers (GET /router/certs).
type Cert struct {
	Domain      string    `json:"domain"` // a name, or a wildcard (*.example.com) for a manual certificate
	Source      string    `json:"source"` // CertACME or CertManual
	Chain       string    `json:"chain,omitempty"`
	Key         string    `json:"key,omitempty"`
	Issuer      string    `json:"issuer,omitempty"`
	Serial      string    `json:"serial,omitempty"`
	NotBefore   time.Time `json:"not_before,omitzero"`
	NotAfter    time.Time `json:"not_after,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	Failures    int       `json:"failures,omitempty"` // failed attempts in a row, for the backoff
}

// Issued reports whether c holds a certificate.
func (c *Cert) Issued() bool { return c.Chain != "" && c.Key != "" }

// Equal reports whether c and o are the same record: every field equal,
// times as instants (a record read back from a store compares equal to
// the one written).
func (c Cert) Equal(o Cert) bool {
	for _, t := range [][2]time.Time{{c.NotBefore, o.NotBefore}, {c.NotAfter, o.NotAfter}, {c.LastAttempt, o.LastAttempt}, {c.NextAttempt, o.NextAttempt}} {
		if !t[0].Equal(t[1]) {
			return false
		}
	}
	return c.withoutTimes() == o.withoutTimes()
}

func (c Cert) withoutTimes() Cert {
	c.NotBefore, c.NotAfter, c.LastAttempt, c.NextAttempt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return c
}

// SameCert reports whether two records, nil for none, are the same.
func SameCert(a, b *Cert) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// CertChanged is the ECONFLICT of ReplaceCert: the domain's record is not
// the one the write was based on.
func CertChanged(domain string) error {
	return Errorf(ECONFLICT, "The certificate record of %s changed since it was read (a certificate was added or removed meanwhile): read it again.", domain).WithFix("see it with", OpCerts)
}

// ACMEAccount is the controller's account at one ACME directory.
type ACMEAccount struct {
	Key string `json:"key"` // PEM private key (ECDSA P-256)
	URL string `json:"url"` // the account's URL at the CA, its key id
}

// CertInfo is what a certificate's leaf says, read by ParseCert.
type CertInfo struct {
	Issuer    string
	Serial    string
	Names     []string
	NotBefore time.Time
	NotAfter  time.Time
}

// ParseCert checks a PEM chain and its PEM private key as a manual
// certificate for domain at time now: every block of the chain parses,
// the key matches the leaf (the first certificate), the leaf's names cover
// domain (a wildcard name covers one label below it; a wildcard domain
// needs that wildcard), and now is within its validity. Each problem is an
// EINVALID error naming it.
func ParseCert(domain, chainPEM, keyPEM string, now time.Time) (CertInfo, error) {
	var info CertInfo
	if err := ValidateCertDomain(domain); err != nil {
		return info, err
	}
	certs, err := parseChain(chainPEM)
	if err != nil {
		return info, err
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return info, err
	}
	leaf := certs[0]
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return info, Errorf(EINVALID, "The private key does not match the certificate (the chain's first certificate, for %s): give the key the certificate was issued for.", describeNames(leaf))
	}
	if !Covers(leaf.DNSNames, domain) {
		hint := domain
		if !strings.HasPrefix(domain, "*.") {
			hint += " (or for *." + parentDomain(domain) + ")"
		}
		return info, Errorf(EINVALID, "The certificate's names (%s) do not cover %s: give a certificate issued for %s.", describeNames(leaf), domain, hint)
	}
	if now.After(leaf.NotAfter) {
		return info, Errorf(EINVALID, "The certificate expired on %s: give a current one.", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return info, Errorf(EINVALID, "The certificate is not valid yet: it starts on %s; give one valid now, or check this controller's clock.", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return CertInfo{Issuer: issuerName(leaf), Serial: leaf.SerialNumber.Text(16), Names: leaf.DNSNames, NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter}, nil
}

// ValidateCertDomain checks a certificate's domain: an app name, or a
// wildcard of one (*.example.com).
func ValidateCertDomain(domain string) error {
	name := strings.TrimPrefix(domain, "*.")
	if err := ValidateAppName(name); err != nil || !strings.Contains(name, ".") && name != domain {
		return Errorf(EINVALID, "Domain %q is not a host name such as shop.example.com or a wildcard such as *.example.com.", domain)
	}
	return nil
}

// Covers reports whether a certificate for names serves domain: an equal
// name, or a wildcard *.parent for a domain one label below parent. A
// wildcard domain is covered by the same wildcard only.
func Covers(names []string, domain string) bool {
	domain = strings.ToLower(domain)
	for _, n := range names {
		n = strings.ToLower(n)
		if n == domain {
			return true
		}
		if rest, ok := strings.CutPrefix(n, "*."); ok && !strings.HasPrefix(domain, "*.") {
			if label, parent, found := strings.Cut(domain, "."); found && label != "" && parent == rest {
				return true
			}
		}
	}
	return false
}

// IssuerName is the certificate issuer's name as GET /certs shows it.
func IssuerName(chainPEM string) string {
	certs, err := parseChain(chainPEM)
	if err != nil {
		return ""
	}
	return issuerName(certs[0])
}

func issuerName(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return c.Issuer.CommonName
	}
	return c.Issuer.String()
}

func parseChain(chainPEM string) ([]*x509.Certificate, error) {
	rest := []byte(chainPEM)
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, Errorf(EINVALID, "The certificate chain holds a %q PEM block: give only CERTIFICATE blocks, the domain's certificate first.", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, Errorf(EINVALID, "Certificate %d of the chain does not parse (%v): give the PEM chain as the CA issued it.", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, Errorf(EINVALID, "The certificate is not PEM: no CERTIFICATE block found; give the PEM chain (-----BEGIN CERTIFICATE-----), the domain's certificate first.")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, Errorf(EINVALID, "The certificate chain has text after its last PEM block that is not PEM: give only the PEM chain.")
	}
	return certs, nil
}

func parseKey(keyPEM string) (crypto.Signer, error) {
	block, _ := pem.Decode([]byte(keyPEM))
	if block == nil {
		return nil, Errorf(EINVALID, "The private key is not PEM: no PEM block found; give the key in PEM (-----BEGIN PRIVATE KEY-----, EC or RSA PRIVATE KEY).")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, Errorf(EINVALID, "The private key is a %q PEM block: give a PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY.", block.Type)
	}
	if err != nil {
		return nil, Errorf(EINVALID, "The private key does not parse (%v): give an unencrypted PEM key.", err)
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
		return k.(crypto.Signer), nil
	}
	return nil, Errorf(EINVALID, "The private key is of a kind routers cannot serve (%T): give an ECDSA, RSA or Ed25519 key.", key)
}

func describeNames(c *x509.Certificate) string {
	if len(c.DNSNames) == 0 {
		return fmt.Sprintf("no DNS names; subject %q", c.Subject.CommonName)
	}
	return strings.Join(c.DNSNames, ", ")
}

func parentDomain(domain string) string {
	_, parent, ok := strings.Cut(domain, ".")
	if !ok {
		return domain
	}
	return parent
}

// AddHTTPS adds app to the table's HTTPS apps when it has HTTPS on (and
// is not being deleted). Both stores build the table with it.
func AddHTTPS(t *RoutingTable, app *App) {
	if !app.HTTPS.Enabled || app.Deleting {
		return
	}
	if t.HTTPS == nil {
		t.HTTPS = map[string]HTTPSRoute{}
	}
	t.HTTPS[app.Name] = HTTPSRoute{Redirect: app.HTTPS.Redirect}
}

// TableSum is the SHA-256 of what a routing table's version counts:
// routes, HTTPS apps, challenges, the certificates' version, the apps in
// maintenance, the held apps, the limited apps and the canaries. A store raises the version when it
// differs from the stored sum.
func TableSum(t RoutingTable) []byte {
	if len(t.HTTPS) == 0 && len(t.Challenges) == 0 && t.Certs == 0 && len(t.Maintenance) == 0 && len(t.Held) == 0 && len(t.Limits) == 0 && len(t.Canary) == 0 {
		// The sum stored before tables carried HTTPS: an upgrade alone
		// does not raise the version.
		buf, _ := json.Marshal(t.Routes)
		sum := sha256.Sum256(buf)
		return sum[:]
	}
	buf, _ := json.Marshal(struct {
		Routes     map[string][]string   `json:"routes"`
		HTTPS      map[string]HTTPSRoute `json:"https,omitempty"`
		Challenges map[string]string     `json:"challenges,omitempty"`
		Certs      uint64                `json:"certs,omitempty"`
		// Left out when empty: the sum of a table without maintenance
		// held or limited apps is the one stored before tables carried them.
		Maintenance map[string]MaintenanceRoute `json:"maintenance,omitempty"`
		Held        map[string]Duration         `json:"held,omitempty"`
		Limits      map[string]LimitRoute       `json:"limits,omitempty"`
		Canary      map[string]CanaryRoute      `json:"canary,omitempty"`
	}{t.Routes, t.HTTPS, t.Challenges, t.Certs, t.Maintenance, t.Held, t.Limits, t.Canary})
	sum := sha256.Sum256(buf)
	return sum[:]
}
