package command

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// TestServeCACert: LONGSHOREMAN_CACERT names the CA a follower verifies the
// leader's https URL with; a file that cannot be read or holds no PEM
// stops the start, naming the variable.
func TestServeCACert(t *testing.T) {
	t.Parallel()
	pki := testenv.NewTLSCerts(t, "127.0.0.1")
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	for file, want := range map[string]string{
		filepath.Join(pki.Dir, "ca.pem"):          "",
		filepath.Join(t.TempDir(), "missing.pem"): "LONGSHOREMAN_CACERT cannot read the CA certificate",
		notPEM: "LONGSHOREMAN_CACERT " + notPEM + " holds no PEM certificate",
	} {
		env := map[string]string{"LONGSHOREMAN_CACERT": file}
		c, err := LoadServeConfig(nil, func(k string) string { return env[k] }, io.Discard)
		switch {
		case want == "" && (err != nil || c.CACert != file):
			t.Errorf("%s: %v, CACert %q", file, err, c.CACert)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: %v, want an error saying %q", file, err, want)
		}
	}
}
