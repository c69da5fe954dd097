package command_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/command"
	"github.com/longshoreman/longshoreman/db"
)

// TestTokenNeedsTheKey: `token` reads the sealed API token with the key
// file beside the data file, or with LONGSHOREMAN_SECRETS_KEY; with
// neither it refuses naming both and the key's id. --routes-key needs no
// key.
func TestTokenNeedsTheKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ls.db")
	d, err := db.Open(path, db.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := d.EnsureToken()
	if err != nil {
		t.Fatal(err)
	}
	routesKey, _, err := d.EnsureRoutesKey()
	if err != nil {
		t.Fatal(err)
	}
	id := d.EnvKey().ID
	d.Close()
	key, err := os.ReadFile(db.KeyFile(path))
	if err != nil {
		t.Fatal(err)
	}
	run := func(secretsKey string, args ...string) (string, error) {
		var out bytes.Buffer
		c := &command.TokenCommand{Stdout: &out, Stderr: &out, Getenv: func(k string) string {
			if k == cluster.SecretsKeyVar {
				return secretsKey
			}
			return ""
		}}
		err := c.Run(context.Background(), append(args, "--db", path))
		return strings.TrimSpace(out.String()), err
	}
	if out, err := run(""); err != nil || out != token {
		t.Fatalf("token with the key file = %q, %v", out, err)
	}
	if err := os.Rename(db.KeyFile(path), db.KeyFile(path)+".elsewhere"); err != nil {
		t.Fatal(err)
	}
	out, err := run("")
	if msg := command.ErrorText(err); err == nil || out != "" || !strings.Contains(msg, cluster.SecretsKeyVar) || !strings.Contains(msg, db.KeyFile(path)) || !strings.Contains(msg, id) {
		t.Fatalf("token without the key = %q, %v; want a refusal naming %s, the key file and key id %s", out, err, cluster.SecretsKeyVar, id)
	}
	if out, err := run(cluster.NewSecretsKey()); err == nil || out != "" || !strings.Contains(command.ErrorText(err), id) {
		t.Fatalf("token with another key = %q, %v; want a refusal naming key id %s", out, err, id)
	}
	if out, err := run(string(key)); err != nil || out != token {
		t.Fatalf("token with the key in %s = %q, %v", cluster.SecretsKeyVar, out, err)
	}
	if out, err := run("", "--routes-key"); err != nil || out != routesKey {
		t.Fatalf("token --routes-key without the key = %q, %v", out, err)
	}
}
