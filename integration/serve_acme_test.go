package integration

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// TestCertExpiryMetric: a certificate brought by the user is counted by
// longshoreman_cert_expiry_seconds; one of an app with HTTPS off is not.
func TestCertExpiryMetric(t *testing.T) {
	t.Parallel()
	c := MustServe(t, filepath.Join(t.TempDir(), "ls.db"), nil)
	certPEM, keyPEM, leaf := routerTestCert(t, "shop.example.com")
	body, _ := json.Marshal(map[string]string{"domain": "shop.example.com", "cert": certPEM, "key": keyPEM})
	mustCall(t, c, "POST", "/certs", string(body))
	if err := c.Store().PutCert(cluster.Cert{Domain: "off.example.com", Source: cluster.CertACME, Chain: certPEM, Key: keyPEM, NotAfter: leaf.NotAfter}); err != nil {
		t.Fatal(err)
	}
	_, b := call(t, c, "GET", "/metrics", "")
	var seconds float64
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, `longshoreman_cert_expiry_seconds{domain="shop.example.com"} `); ok {
			seconds, _ = strconv.ParseFloat(v, 64)
		}
	}
	if want := time.Until(leaf.NotAfter).Seconds(); seconds < want-120 || seconds > want+1 {
		t.Fatalf("cert expiry metric %v, want about %v:\n%s", seconds, want, b)
	}
	if strings.Contains(string(b), "off.example.com") {
		t.Fatal("a certificate of a domain not served over HTTPS is counted")
	}
}
