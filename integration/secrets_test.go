//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/command"
	"github.com/longshoreman/longshoreman/internal/testenv"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// uniqueSecret is an env value no byte sequence of the stores, backups or
// logs holds by chance.
func uniqueSecret(t *testing.T) string {
	b := make([]byte, 12)
	rand.Read(b)
	return "sekrit-" + hex.EncodeToString(b)
}

// serveFails runs the controller binary with env and wants it to stop at
// start; it returns what it printed.
func serveFails(t *testing.T, env []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(t), "serve")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("serve did not stop at start (err %v, timed out %v):\n%s", err, ctx.Err() != nil, out)
	}
	return string(out)
}

// without returns env without the variable named.
func without(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// TestEnvValuesEncryptedAtRest sets an env through the API and deploys the
// test app on the real dockerd: the instance echoes the value, and the
// value's bytes are nowhere in the data file, in GET /backup with or
// without keys, or in the controller's log. Then the key is rotated
// (NEW,OLD, secrets:rotate's POST /secrets/rotate, then NEW alone), the
// instance keeps running and the env is read back; OLD alone, or no key,
// stops the start with a message naming LONGSHOREMAN_SECRETS_KEY.
func TestEnvValuesEncryptedAtRest(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	path := filepath.Join(t.TempDir(), "ls.db")
	c := StartController(t, path)
	c.AddHosts(t, hosts[:1]...)
	app := testenv.App(t, "secrets")
	value := uniqueSecret(t)
	c.MustCall(t, "POST", "/apps", `{"app":"`+app+`"}`)
	c.MustCall(t, "POST", "/"+app+"/envs", `{"env":"SECRET_VALUE=`+value+`"}`)
	c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":1}`)
	c.MustCall(t, "POST", "/"+app+"/envs", `{"env":"OTHER=x"}`) // a second revision, deployed

	echoes := func(what string) {
		t.Helper()
		insts := anyStrings(c.MustCall(t, "GET", "/apps/"+app+"/instances", "")["instances"])
		if len(insts) != 1 {
			t.Fatalf("%s: routed instances %v, want 1", what, insts)
		}
		if status, body := testenv.HTTPGet(t, insts[0], "/env/SECRET_VALUE", 10*time.Second); status != 200 || strings.TrimSpace(body) != value {
			t.Fatalf("%s: the instance's GET /env/SECRET_VALUE = %d %q", what, status, body)
		}
	}
	echoes("deployed")
	if envs := anyStrings(c.MustCall(t, "GET", "/"+app+"/envs", "")["envs"]); strings.Join(envs, " ") != "OTHER=x SECRET_VALUE="+value {
		t.Fatalf("GET envs = %v", envs)
	}

	nowhere := func(what string, b []byte) {
		t.Helper()
		if len(b) == 0 {
			t.Fatalf("%s: nothing to look in", what)
		}
		if bytes.Contains(b, []byte(value)) {
			t.Fatalf("%s holds the env value", what)
		}
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	nowhere("the data file", file)
	if !bytes.Contains(file, []byte("SECRET_VALUE")) {
		t.Fatal("the data file lacks the env's name: the check above looked in the wrong file")
	}
	for _, q := range []string{"", "?keys=true"} {
		status, body := apiGet(t, strings.TrimPrefix(c.URL, "http://"), "/backup"+q, "t0ken-0123456789")
		if status != 200 {
			t.Fatalf("GET /backup%s = %d", q, status)
		}
		nowhere("GET /backup"+q, []byte(body))
	}
	if _, err := os.Stat(path + ".key"); err == nil {
		t.Fatal("a key file was written although LONGSHOREMAN_SECRETS_KEY gave the key")
	}

	// Rotation: NEW,OLD; rotate; NEW alone.
	newKey := cluster.NewSecretsKey()
	c.Kill()
	c.env = append(c.env, "LONGSHOREMAN_SECRETS_KEY="+newKey+","+testSecretsKey)
	c.Start(t)
	echoes("restarted with NEW,OLD")
	out := c.MustCall(t, "POST", "/secrets/rotate", "")
	newID := mustKeyID(t, newKey)
	if out["key_id"] != newID || out["sealed"].(float64) < 3 { // the app and its two revisions
		t.Fatalf("POST /secrets/rotate = %v; want key %s and at least 3 records", out, newID)
	}
	c.Kill()
	c.env = append(c.env, "LONGSHOREMAN_SECRETS_KEY="+newKey)
	c.Start(t)
	echoes("restarted with NEW alone")
	if envs := anyStrings(c.MustCall(t, "GET", "/"+app+"/envs", "")["envs"]); strings.Join(envs, " ") != "OTHER=x SECRET_VALUE="+value {
		t.Fatalf("GET envs with the new key = %v", envs)
	}
	file, _ = os.ReadFile(path)
	nowhere("the data file after the rotation", file)
	c.Kill()

	for name, env := range map[string][]string{
		"OLD alone": append(without(c.env, "LONGSHOREMAN_SECRETS_KEY"), "LONGSHOREMAN_SECRETS_KEY="+testSecretsKey),
		"no key":    without(c.env, "LONGSHOREMAN_SECRETS_KEY"),
	} {
		out := serveFails(t, env)
		if !strings.Contains(out, "LONGSHOREMAN_SECRETS_KEY") || !strings.Contains(out, newID) {
			t.Errorf("%s: the refusal names neither LONGSHOREMAN_SECRETS_KEY nor the key id %s:\n%s", name, newID, out)
		}
	}
	log := c.Log()
	nowhere("the controller's log", []byte(log))
	for _, key := range []string{newKey, testSecretsKey} {
		if strings.Contains(log, key) {
			t.Fatal("the controller's log holds a secrets key")
		}
	}
	if !strings.Contains(log, newID) {
		t.Errorf("the log does not say which key seals (%s):\n%s", newID, log)
	}
}

// TestEnvValuesEncryptedOnEtcd: on an etcd prefix a value set through the
// API is in no key of a raw `get --prefix` of the prefix, nor in GET
// /backup, nor in the log; a controller without the key, or with another,
// refuses to start naming LONGSHOREMAN_SECRETS_KEY.
func TestEnvValuesEncryptedOnEtcd(t *testing.T) {
	t.Parallel()
	url := etcdTestURL(t)
	c, log := serveOnEtcd(t, url, nil)
	value := uniqueSecret(t)
	mustCall(t, c, "POST", "/apps", `{"app":"etcd-secrets.example.com"}`)
	mustCall(t, c, "POST", "/etcd-secrets.example.com/envs", `{"env":"SECRET_VALUE=`+value+`"}`)
	if envs := mustCall(t, c, "GET", "/etcd-secrets.example.com/envs", "")["envs"]; len(anyStrings(envs)) != 1 || anyStrings(envs)[0] != "SECRET_VALUE="+value {
		t.Fatalf("GET envs = %v", envs)
	}

	prefix, dump := etcdDump(t, url)
	if !bytes.Contains(dump, []byte("SECRET_VALUE")) {
		t.Fatalf("the dump of %s lacks the env's name: it looked in the wrong place", prefix)
	}
	if bytes.Contains(dump, []byte(value)) {
		t.Fatal("etcd holds the env value")
	}
	for _, q := range []string{"", "?keys=true"} {
		status, body := call(t, c, "GET", "/backup"+q, "")
		if status != 200 || bytes.Contains(body, []byte(value)) || !bytes.Contains(body, []byte("SECRET_VALUE")) {
			t.Fatalf("GET /backup%s = %d: holds the value or lacks the name", q, status)
		}
	}
	if strings.Contains(log.String(), value) || strings.Contains(log.String(), testSecretsKey) {
		t.Fatal("the controller's log holds the env value or the key")
	}

	id := mustKeyID(t, testSecretsKey)
	for name, key := range map[string]string{"no key": "", "another key": cluster.NewSecretsKey()} {
		env := etcdServeEnv(t, url)
		env["LONGSHOREMAN_TOKEN"], env[cluster.SecretsKeyVar] = "t0ken-0123456789", key
		_, _, err := openServe(t, env)
		msg := command.ErrorText(err)
		if err == nil || !strings.Contains(msg, cluster.SecretsKeyVar) || (key != "" && !strings.Contains(msg, id)) {
			t.Errorf("%s: serve on the prefix = %v; want a refusal naming %s (and the key id %s)", name, err, cluster.SecretsKeyVar, id)
		}
	}
}

// TestRestoreNeedsTheKey: a backup carries the values encrypted and not
// their key: a controller on the restored data file without the key stops
// at start saying so (not empty envs); with it, the envs are there.
func TestRestoreNeedsTheKey(t *testing.T) {
	t.Parallel()
	c := MustServe(t, filepath.Join(t.TempDir(), "ls.db"), nil)
	value := uniqueSecret(t)
	mustCall(t, c, "POST", "/apps", `{"app":"kept.example.com"}`)
	mustCall(t, c, "POST", "/kept.example.com/envs", `{"env":"SECRET_VALUE=`+value+`"}`)
	status, backup := call(t, c, "GET", "/backup?keys=true", "")
	if status != 200 {
		t.Fatalf("GET /backup = %d", status)
	}
	path := filepath.Join(t.TempDir(), "restored.db")
	if err := os.WriteFile(path, backup, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := openServe(t, map[string]string{"LONGSHOREMAN_DB": path})
	if msg := command.ErrorText(err); err == nil || !strings.Contains(msg, cluster.SecretsKeyVar) || !strings.Contains(msg, path+".key") || !strings.Contains(msg, mustKeyID(t, testSecretsKey)) {
		t.Fatalf("serve on the restored backup without its key = %v; want a refusal naming %s, the key file and the key id", err, cluster.SecretsKeyVar)
	}
	if _, err := os.Stat(path + ".key"); err == nil {
		t.Fatal("a key was generated for a restored file whose values are sealed")
	}
	r := MustServe(t, path, nil) // with the key
	if envs := anyStrings(mustCall(t, r, "GET", "/kept.example.com/envs", "")["envs"]); len(envs) != 1 || envs[0] != "SECRET_VALUE="+value {
		t.Fatalf("envs restored with the key = %v", envs)
	}
}

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

// etcdDump returns the prefix of an etcd store URL and every key under it
// with its value, as a raw `etcdctl get --prefix` shows them.
func etcdDump(t *testing.T, url string) (string, []byte) {
	t.Helper()
	prefix := "/" + strings.SplitN(strings.TrimPrefix(url, "etcd://"), "/", 2)[1]
	cl, err := clientv3.New(clientv3.Config{Endpoints: testenv.Etcd(t), DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cl.Get(ctx, prefix+"/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	var dump bytes.Buffer
	for _, kv := range resp.Kvs {
		dump.Write(kv.Key)
		dump.WriteByte('\n')
		dump.Write(kv.Value)
		dump.WriteByte('\n')
	}
	return prefix, dump.Bytes()
}

func mustKeyID(t *testing.T, key string) string {
	t.Helper()
	k, err := cluster.ParseKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	return k.ID()
}
