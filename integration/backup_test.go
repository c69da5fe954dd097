//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/command"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// callWithin sends an authenticated request that must be answered within
// limit (a generous bound: it fails only when the controller hangs).
func callWithin(t *testing.T, c *command.ServeCommand, limit time.Duration, method, path, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, c.URL()+path, strings.NewReader(body))
	req.Header.Set("X-Auth", "t0ken-0123456789")
	status, b, err := readAnswer(http.DefaultClient, req)
	if err != nil {
		t.Fatalf("%s %s: no answer within %s while a backup is read slowly: %v", method, path, limit, err)
	}
	return status, b
}

// TestSlowBackupDoesNotBlock reads GET /backup at about 2 KB/s from a
// data file of some megabytes while other clients write enough for bbolt to
// grow (remap) the file, deploy an app and read /healthz, /apps and
// /history: they must all be answered while the backup is still being read.
func TestSlowBackupDoesNotBlock(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	path := filepath.Join(t.TempDir(), "ls.db")
	fillDataFile(t, path, 14<<20)

	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	c := MustServe(t, path, nil)
	backupRead := slowBackupReader(t, c.URL())

	deadline := 2 * time.Minute
	for _, h := range hosts {
		callWithin(t, c, deadline, "POST", "/hosts", `{"host":"`+h+`"}`)
	}
	value := strings.Repeat("v", cluster.MaxEnvValueLength)
	for i := range 160 {
		app := fmt.Sprintf("/grow%d.example.com", i)
		if status, b := callWithin(t, c, deadline, "POST", "/apps", `{"app":"`+app[1:]+`"}`); status != 200 {
			t.Fatalf("POST /apps = %d %s", status, b)
		}
		if status, b := callWithin(t, c, deadline, "POST", app+"/envs", `{"env":"V=`+value+`"}`); status != 200 {
			t.Fatalf("POST envs = %d %s", status, b)
		}
	}
	app := testenv.App(t, "backup")
	if status, b := callWithin(t, c, 5*time.Minute, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":1}`); status != 200 {
		t.Fatalf("deploy while a backup is read slowly = %d %s", status, b)
	}
	for _, p := range []string{"/healthz", "/apps", "/" + app + "/history"} {
		if status, b := callWithin(t, c, deadline, "GET", p, ""); status != 200 {
			t.Fatalf("GET %s = %d %s", p, status, b)
		}
	}
	// Had the backup ended, nothing above would have been held up.
	if got := backupRead.Load(); got <= 0 || got >= st.Size() {
		t.Fatalf("the backup client read %d of %d bytes; want it still reading", got, st.Size())
	}
}

// TestBackupKeys adds a certificate of the operator's to a controller that
// generated its own routes key and router token, and takes two backups:
// without keys (the default), whose file holds none of the certificate's
// key, the routes key or the router token; and with keys. A controller
// started on the backup with keys serves HTTPS, through a new router, with
// the same certificate; the backup without keys, restored onto the first
// controller's data file, keeps that file's keys and serves it too; onto a
// new data file it is refused without --new-keys, and with it the
// controller has new keys and asks for the certificate again.
func TestBackupKeys(t *testing.T) {
	redisAddr := testenv.Redis(t)
	rhost, rport, _ := net.SplitHostPort(redisAddr)
	channel := "test.backupkeys." + strconv.FormatInt(time.Now().UnixNano(), 36)
	dir := t.TempDir()
	serve := func(path string) (*command.ServeCommand, *testenv.Log) {
		t.Helper()
		log := &testenv.Log{}
		env := map[string]string{"LONGSHOREMAN_DB": path, "LONGSHOREMAN_INIT": "1", "LONGSHOREMAN_TOKEN": "t0ken-0123456789",
			"LONGSHOREMAN_LISTEN": "127.0.0.1:0", "REDIS_HOST": rhost, "REDIS_PORT": rport, "LONGSHOREMAN_CHANNEL": channel,
			"LONGSHOREMAN_REPUBLISH": "1s", cluster.SecretsKeyVar: testSecretsKey}
		return mustOpenServe(t, env, log, nil), log
	}
	keysOf := func(c *command.ServeCommand) (routesKey, routerToken string) {
		t.Helper()
		routesKey, err := c.Store().RoutesKey()
		if err != nil || routesKey == "" {
			t.Fatalf("routes key %q, %v", routesKey, err)
		}
		routerToken, err = c.Store().RouterToken()
		if err != nil || routerToken == "" {
			t.Fatalf("router token %q, %v", routerToken, err)
		}
		return routesKey, routerToken
	}
	backup := func(c *command.ServeCommand, query, file string) []byte {
		t.Helper()
		status, b := call(t, c, "GET", "/backup"+query, "")
		if status != 200 || len(b) == 0 {
			t.Fatalf("GET /backup%s = %d, %d bytes", query, status, len(b))
		}
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return b
	}

	app := testenv.UniqueApp(t, "backupkeys")
	certPEM, keyPEM, own := routerTestCert(t, app)
	serial := own.SerialNumber.Text(16)
	pool := x509.NewCertPool()
	pool.AddCert(own)
	// served waits until a new router (its own state directory, so no
	// cache) fetches the certificates from c and presents own for app.
	served := func(c *command.ServeCommand, what string) {
		t.Helper()
		routesKey, routerToken := keysOf(c)
		httpsPort := testenv.FreePort(t)
		r := StartRouterEnv(t, redisAddr, "LONGSHOREMAN_CHANNEL="+channel, "LONGSHOREMAN_ROUTES_KEY="+routesKey,
			"HTTPS_PORT="+strconv.Itoa(httpsPort), "LONGSHOREMAN_URL="+c.URL(), "LONGSHOREMAN_ROUTER_TOKEN="+routerToken)
		deadline := time.Now().Add(30 * time.Second)
		for {
			conn, err := tls.Dial("tcp", testenv.Addr("127.0.0.1", httpsPort), &tls.Config{ServerName: app, RootCAs: pool})
			if err == nil {
				got := conn.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
				conn.Close()
				if got != serial {
					t.Fatalf("%s: the router served serial %s, want %s", what, got, serial)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no HTTPS handshake for %s within 30s: %v\nrouter log:\n%s", what, app, err, r.Log())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	original := filepath.Join(dir, "ls.db")
	a, _ := serve(original)
	routesKey, routerToken := keysOf(a)
	body, _ := json.Marshal(map[string]string{"domain": app, "cert": certPEM, "key": keyPEM})
	mustCall(t, a, "POST", "/certs", string(body))
	served(a, "the original controller")

	// Without keys: none of them in the file.
	keyless := filepath.Join(dir, "nokeys.db")
	b := backup(a, "", keyless)
	keyLine := strings.Split(keyPEM, "\n")[1] // the first line of the key's base64
	for what, secret := range map[string]string{"the certificate's key": keyLine, "the routes key": routesKey, "the router token": routerToken} {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("the backup without keys holds %s", what)
		}
	}
	if bytes.Contains(b, []byte("PRIVATE KEY")) || !bytes.Contains(b, []byte(strings.Split(certPEM, "\n")[1])) {
		t.Errorf("the backup without keys: PEM key in it %v, certificate in it %v; want no key and the certificate",
			bytes.Contains(b, []byte("PRIVATE KEY")), bytes.Contains(b, []byte(strings.Split(certPEM, "\n")[1])))
	}

	// With keys: a controller started on the file serves the certificate.
	withKeys := filepath.Join(dir, "keys.db")
	b = backup(a, "?keys=true", withKeys)
	if !bytes.Contains(b, []byte(keyLine)) || !bytes.Contains(b, []byte(routesKey)) || !bytes.Contains(b, []byte(routerToken)) {
		t.Fatal("the backup with keys lacks a key")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	fromKeys, _ := serve(withKeys)
	if rk, rt := keysOf(fromKeys); rk != routesKey || rt != routerToken {
		t.Fatal("the controller restored from the backup with keys has other keys")
	}
	served(fromKeys, "the controller on the backup with keys")
	if err := fromKeys.Close(); err != nil {
		t.Fatal(err)
	}

	// Without keys, restored onto the original data file: it keeps its
	// keys, and the certificate its key.
	var out bytes.Buffer
	if err := (&command.RestoreCommand{Stdout: &out, Getenv: testGetenv}).Run(context.Background(), []string{keyless, original}); err != nil {
		t.Fatalf("restore onto the original data file: %v", err)
	}
	if !strings.Contains(out.String(), "keeps its own (routes key, router token") || !strings.Contains(out.String(), "Certificates that keep the target's key: "+app) {
		t.Errorf("restore said: %s", out.String())
	}
	kept, _ := serve(original)
	if rk, rt := keysOf(kept); rk != routesKey || rt != routerToken {
		t.Fatal("the restore without keys did not keep the target's keys")
	}
	served(kept, "the controller on the data file restored from the backup without keys")
	if err := kept.Close(); err != nil {
		t.Fatal(err)
	}

	// Onto a new data file: refused without --new-keys; with it, new keys,
	// and the certificate to add again.
	fresh := filepath.Join(dir, "fresh.db")
	err := (&command.RestoreCommand{Stdout: io.Discard, Getenv: testGetenv}).Run(context.Background(), []string{keyless, fresh})
	if cluster.ErrorCode(err) != cluster.ECONFLICT || !strings.Contains(err.Error(), "--new-keys") {
		t.Fatalf("restore without keys onto a new data file: %v; want a conflict naming --new-keys", err)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Fatalf("the refused restore left %s behind: %v", fresh, err)
	}
	out.Reset()
	if err := (&command.RestoreCommand{Stdout: &out, Getenv: testGetenv}).Run(context.Background(), []string{"--new-keys", keyless, fresh}); err != nil {
		t.Fatalf("restore --new-keys: %v", err)
	}
	if !strings.Contains(out.String(), "add again with certs:add: "+app) {
		t.Errorf("restore --new-keys said: %s", out.String())
	}
	renewed, log := serve(fresh)
	if rk, rt := keysOf(renewed); rk == routesKey || rt == routerToken {
		t.Fatal("the restore with --new-keys kept the old keys")
	}
	if !strings.Contains(log.String(), "Generated a routes key") {
		t.Errorf("the controller on new keys did not say it generated a routes key:\n%s", log)
	}
	c, err := renewed.Store().Cert(app)
	if err != nil || c.Issued() || !strings.Contains(c.LastError, "certs:add") {
		t.Fatalf("the certificate after a restore with new keys: %+v, %v; want no key and a last error saying to add it again", c, err)
	}
}

// TestRestoreWithoutKeysOntoItsEtcdPrefix: a backup without keys of an
// etcd prefix, restored onto that prefix, leaves every record as it was,
// keys included.
func TestRestoreWithoutKeysOntoItsEtcdPrefix(t *testing.T) {
	checkRestoredOntoItsStore(t, etcdTestURL(t))
}
