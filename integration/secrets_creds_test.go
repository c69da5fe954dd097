//go:build integration

package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/command"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// TestTokenAndRegistryPasswordEncryptedAtRest: the root API token the
// controller generated and a private registry's password set with POST
// /registries are in no byte of the data file nor of GET /backup with or
// without keys (the registry's address and username are); the controller
// pulls from that registry, which refuses pulls without the password; after
// a rotation (NEW,OLD, POST /secrets/rotate, NEW alone) `token` prints the
// token with the new key and the controller pulls with the password again.
func TestTokenAndRegistryPasswordEncryptedAtRest(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	password := uniqueSecret(t)
	registry := testenv.StartAuthRegistry(t, "deployer", password, testenv.Registry(t))
	ref := registry + "/" + testenv.Image(t, "1")
	t.Cleanup(func() { testenv.DockerErr(t, "rmi", "-f", ref) })
	if out, err := testenv.DockerErr(t, "pull", ref); err == nil {
		t.Fatalf("docker pull %s without the password succeeded: the registry does not ask for one\n%s", ref, out)
	}

	path := filepath.Join(t.TempDir(), "ls.db")
	c := StartController(t, path, "LONGSHOREMAN_TOKEN=") // generates the token into the data file
	token, err := command.ReadToken(path, testSecretsKey)
	if err != nil || len(token) < command.MinTokenLength {
		t.Fatalf("the generated token: %q, %v", token, err)
	}
	c.Kill()
	c.env = append(c.env, "LONGSHOREMAN_TOKEN=t0ken-0123456789")
	c.Start(t)
	c.MustCall(t, "POST", "/hosts", `{"host":"`+hosts[0]+`"}`)
	c.MustCall(t, "POST", "/registries", `{"registry":"`+registry+`","username":"deployer","password":"`+password+`"}`)

	deploys := func(what string) {
		t.Helper()
		testenv.DockerErr(t, "rmi", "-f", ref) // pulled anew, with the password
		app := testenv.App(t, "regauth")
		c.MustCall(t, "POST", "/apps", `{"app":"`+app+`"}`)
		c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+ref+`","count":1}`)
		insts := anyStrings(c.MustCall(t, "GET", "/apps/"+app+"/instances", "")["instances"])
		if len(insts) != 1 {
			t.Fatalf("%s: routed instances %v, want 1", what, insts)
		}
		if status, _ := testenv.HTTPGet(t, insts[0], "/", 10*time.Second); status != 200 {
			t.Fatalf("%s: the instance answers %d", what, status)
		}
	}
	deploys("with the password stored")

	nowhere := func(what string, b []byte) {
		t.Helper()
		if !bytes.Contains(b, []byte(registry)) || !bytes.Contains(b, []byte("deployer")) {
			t.Fatalf("%s lacks the registry's address or username: the check looked in the wrong place", what)
		}
		if bytes.Contains(b, []byte(token)) {
			t.Fatalf("%s holds the API token", what)
		}
		if bytes.Contains(b, []byte(password)) {
			t.Fatalf("%s holds the registry's password", what)
		}
	}
	for _, q := range []string{"", "?keys=true"} {
		status, body := apiGet(t, strings.TrimPrefix(c.URL, "http://"), "/backup"+q, "t0ken-0123456789")
		if status != 200 {
			t.Fatalf("GET /backup%s = %d", q, status)
		}
		nowhere("GET /backup"+q, []byte(body))
	}
	c.Kill()
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	nowhere("the data file", file)

	newKey := cluster.NewSecretsKey()
	c.env = append(c.env, "LONGSHOREMAN_SECRETS_KEY="+newKey+","+testSecretsKey)
	c.Start(t)
	if out := c.MustCall(t, "POST", "/secrets/rotate", ""); out["sealed"].(float64) < 2 { // the token and the registry
		t.Fatalf("POST /secrets/rotate = %v; want at least 2 records sealed anew", out)
	}
	c.Kill()
	c.env = append(c.env, "LONGSHOREMAN_SECRETS_KEY="+newKey)
	c.Start(t)
	if got, err := command.ReadToken(path, newKey); err != nil || got != token {
		t.Fatalf("token with the new key = %q, %v; want %q", got, err, token)
	}
	if _, err := command.ReadToken(path, testSecretsKey); err == nil || !strings.Contains(command.ErrorText(err), cluster.SecretsKeyVar) {
		t.Fatalf("token with the old key alone = %v; want a refusal naming %s", err, cluster.SecretsKeyVar)
	}
	deploys("after the rotation")
	c.Kill()
	file, _ = os.ReadFile(path)
	nowhere("the data file after the rotation", file)
	if log := c.Log(); strings.Contains(log, password) || strings.Contains(log, token) {
		t.Fatal("the controller's log holds the registry's password or the API token")
	}
}

// TestTokenAndRegistryPasswordEncryptedOnEtcd: on an etcd prefix the root
// API token and a registry's password set with POST /registries are in no
// byte of a raw `get --prefix` of the prefix nor of GET /backup; the
// controller reads both back.
func TestTokenAndRegistryPasswordEncryptedOnEtcd(t *testing.T) {
	t.Parallel()
	url := etcdTestURL(t)
	c, log := serveOnEtcd(t, url, nil)
	password := uniqueSecret(t)
	mustCall(t, c, "POST", "/registries", `{"registry":"r.example.com","username":"deployer","password":"`+password+`"}`)
	s, err := command.OpenStore(url, false, func(k string) string {
		if k == cluster.SecretsKeyVar {
			return testSecretsKey
		}
		return etcdServeEnv(t, url)[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	token, _, err := s.EnsureToken() // a controller started without LONGSHOREMAN_TOKEN stores one
	if err != nil {
		t.Fatal(err)
	}
	if user, pass, ok := s.RegistryAuth("r.example.com"); !ok || user != "deployer" || pass != password {
		t.Fatalf("RegistryAuth = %q %q %v", user, pass, ok)
	}

	prefix, dump := etcdDump(t, url)
	if !bytes.Contains(dump, []byte("r.example.com")) || !bytes.Contains(dump, []byte(cluster.MetaTokenSealed)) {
		t.Fatalf("the dump of %s lacks the registry or the sealed token: it looked in the wrong place", prefix)
	}
	if bytes.Contains(dump, []byte(password)) || bytes.Contains(dump, []byte(token)) {
		t.Fatalf("the dump of %s holds the registry's password or the API token", prefix)
	}
	for _, q := range []string{"", "?keys=true"} {
		status, body := call(t, c, "GET", "/backup"+q, "")
		if status != 200 || bytes.Contains(body, []byte(password)) || bytes.Contains(body, []byte(token)) || !bytes.Contains(body, []byte("r.example.com")) {
			t.Fatalf("GET /backup%s = %d: holds the password or the token, or lacks the registry", q, status)
		}
	}
	if strings.Contains(log.String(), password) {
		t.Fatal("the controller's log holds the registry's password")
	}
}
