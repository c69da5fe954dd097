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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/command"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/router"
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

// TestRestoreAdoptsRunningContainers follows the README's restore
// procedure: a backup is taken (without keys); then an instance dies and is
// replaced, and another app is deployed; the controller is stopped, the
// backup restored onto its data file (`longshoreman restore`), and the
// controller started. The reconciler must
// adopt the replacement container (same revision, healthy) instead of
// starting a new one, and remove the containers of the app the backup does
// not know.
func TestRestoreAdoptsRunningContainers(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	path := filepath.Join(t.TempDir(), "ls.db")
	c := StartController(t, path)
	c.AddHosts(t, hosts...)
	kept, later := testenv.UniqueApp(t, "restore"), testenv.UniqueApp(t, "after-backup")
	t.Cleanup(func() { testenv.RemoveContainers(t, kept); testenv.RemoveContainers(t, later) })
	c.MustCall(t, "POST", "/"+kept+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":2}`)

	_, backup := c.CallRaw(t, "GET", "/backup", "")

	// After the backup: an instance dies and is replaced; another app runs.
	before := anyStrings(c.MustCall(t, "GET", "/"+kept+"/instances", "")["instances"])
	victim := containerAt(t, kept, before[0])
	testenv.Docker(t, "kill", victim)
	testenv.Eventually(t, 30*time.Second, "the dead instance replaced", func() bool {
		now := anyStrings(c.MustCall(t, "GET", "/"+kept+"/instances", "")["instances"])
		return len(now) == 2 && !contains(now, before[0])
	})
	replaced := anyStrings(c.MustCall(t, "GET", "/"+kept+"/instances", "")["instances"])
	c.MustCall(t, "POST", "/"+later+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":1}`)

	// Restore: stop, restore onto the data file, start.
	c.Kill()
	file := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(file, backup, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := (&command.RestoreCommand{Stdout: io.Discard, Getenv: testGetenv}).Run(context.Background(), []string{file, path}); err != nil {
		t.Fatal(err)
	}
	c.Start(t)
	testenv.Eventually(t, 30*time.Second, "the restored controller settled", func() bool {
		now := anyStrings(c.MustCall(t, "GET", "/"+kept+"/instances", "")["instances"])
		out, _ := testenv.DockerErr(t, "ps", "-q", "--filter", "label="+cluster.LabelApp+"="+later)
		return strings.Join(now, ",") == strings.Join(replaced, ",") && strings.TrimSpace(out) == ""
	})
	mustAnswerAll(t, replaced)
	if status, _ := c.Call("GET", "/"+later+"/envs", ""); status != 404 {
		t.Fatalf("the app deployed after the backup is known after restore: %d", status)
	}
}

// containerAt returns the id of app's container published at addr.
func containerAt(t *testing.T, app, addr string) string {
	t.Helper()
	port := addr[strings.LastIndex(addr, ":")+1:]
	out := testenv.Docker(t, "ps", "-q", "--filter", "label="+cluster.LabelApp+"="+app, "--filter", "publish="+port)
	ids := strings.Fields(out)
	if len(ids) != 1 {
		t.Fatalf("containers of %s at %s: %q", app, addr, out)
	}
	return ids[0]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func mustAnswerAll(t *testing.T, addrs []string) {
	t.Helper()
	for _, a := range addrs {
		resp, err := http.Get("http://" + a + "/ping")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s does not answer: %v", a, err)
		}
		resp.Body.Close()
	}
}

// Status reads the router's status answer.
func (r *Router) Status(tb testing.TB) router.Status {
	tb.Helper()
	req, _ := http.NewRequest("GET", r.URL+router.StatusPath, nil)
	req.Header.Set("Authorization", "Bearer "+testRouterToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var st router.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		tb.Fatalf("%s: %v", router.StatusPath, err)
	}
	return st
}

// answerLog records every answer of a client loop through the router, in
// order, with its time.
type answerLog struct {
	mu      sync.Mutex // guards answers
	answers []answer
	stop    atomic.Bool
	done    chan struct{}
}

type answer struct {
	at      time.Time
	ok      bool
	version string // "version=N" of a 200, else the failure
}

func loop(r *Router, app string) *answerLog {
	l := &answerLog{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for !l.stop.Load() {
			status, body, err := r.Get(app)
			a := answer{at: time.Now(), ok: err == nil && status == 200}
			if a.ok {
				a.version = strings.Fields(body)[0]
			} else {
				a.version = strings.TrimSpace(body)
				if err != nil {
					a.version = err.Error()
				}
			}
			l.mu.Lock()
			l.answers = append(l.answers, a)
			l.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return l
}

func (l *answerLog) Stop() []answer {
	l.stop.Store(true)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.answers
}

// countSince returns how many answers came at or after since.
func (l *answerLog) countSince(since time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.answers {
		if !a.at.Before(since) {
			n++
		}
	}
	return n
}

func (l *answerLog) firstSince(since time.Time, version string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range l.answers {
		if a.at.After(since) && a.ok && a.version == version {
			return a.at, true
		}
	}
	return time.Time{}, false
}

// TestRestoreReachesRouters is the restore sequence that used to blackhole
// traffic: a backup at routing version V, three deploys (V+3), the
// controller stopped, the backup restored as the README says, the
// controller started. The restored controller publishes a lower version
// with the same controller id; the router must take it anyway (its epoch is
// higher) within one heartbeat, and once the router answers from the
// restored state no request through it may fail.
func TestRestoreReachesRouters(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	redis := testenv.StartRedis(t)
	rhost, rport, _ := net.SplitHostPort(redis.Addr)
	const heartbeat = time.Second
	path := filepath.Join(t.TempDir(), "ls.db")
	c := StartController(t, path, "REDIS_HOST="+rhost, "REDIS_PORT="+rport, "LONGSHOREMAN_REPUBLISH="+heartbeat.String(), "LONGSHOREMAN_DRAIN=1s")
	c.AddHosts(t, hosts...)
	app := testenv.App(t, "restore-routing")
	c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":2}`)
	r := StartRouter(t, redis.Addr)
	r.WaitRoutes(t, app, 60*time.Second)

	status, backup := c.CallRaw(t, "GET", "/backup?keys=true", "")
	if status != 200 {
		t.Fatalf("GET /backup = %d", status)
	}
	atBackup := r.Status(t)

	for _, v := range []string{"2", "1", "2"} {
		c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, v)+`"}`)
	}
	testenv.Eventually(t, 60*time.Second, "router serves the last deploy", func() bool {
		s, body, _ := r.Get(app)
		return s == 200 && strings.HasPrefix(body, "version=2")
	})
	before := r.Status(t)
	if before.Epoch != atBackup.Epoch || before.Version <= atBackup.Version {
		t.Fatalf("router at backup %d.%d, after three deploys %d.%d", atBackup.Epoch, atBackup.Version, before.Epoch, before.Version)
	}

	load := loop(r, app)
	// The README's restore: stop the controller, put the backup in place
	// of the data file, start it.
	c.Kill()
	if err := os.WriteFile(path, backup, 0o600); err != nil {
		t.Fatal(err)
	}
	c.Start(t)
	started := time.Now()
	testenv.Eventually(t, heartbeat+2*time.Second, "router applies the restored controller's table", func() bool {
		return r.Status(t).Epoch > before.Epoch
	})
	applied := time.Since(started)
	after := r.Status(t)
	if after.Version >= before.Version || after.Controller != before.Controller || after.Cluster != before.Cluster {
		t.Fatalf("router before the restore %+v, after %+v: want a lower version of the same controller and cluster", before, after)
	}
	t.Logf("router had %d.%d at the backup, %d.%d before the restore, applied %d.%d %s after the restored controller answered",
		atBackup.Epoch, atBackup.Version, before.Epoch, before.Version, after.Epoch, after.Version, applied.Round(time.Millisecond))

	// The restored state is revision 1 (image 1); the reconciler brings its
	// instances back and removes the later ones.
	var restoredAt time.Time
	testenv.Eventually(t, 90*time.Second, "router answers from the restored state", func() bool {
		at, ok := load.firstSince(started, "version=1")
		restoredAt = at
		return ok
	})
	testenv.Eventually(t, 90*time.Second, "the later deploys' containers removed", func() bool {
		out, _ := testenv.DockerErr(t, "ps", "-q", "--filter", "label=longshoreman.app="+app)
		return len(strings.Fields(out)) == 2
	})
	time.Sleep(3 * heartbeat) // several heartbeats with the settled state
	// At least 50 answers of the restored state, however slow the machine.
	testenv.Eventually(t, 60*time.Second, "50 answers since the restored state was first served", func() bool {
		return load.countSince(restoredAt) >= 50
	})
	answers := load.Stop()
	var failedAfter, total, failedBefore int
	var lastFail string
	for _, a := range answers {
		if a.at.After(started) && a.at.Before(restoredAt) && !a.ok {
			failedBefore++
		}
		if !a.at.Before(restoredAt) {
			total++
			if !a.ok || a.version != "version=1" {
				failedAfter++
				lastFail = a.version
			}
		}
	}
	t.Logf("%d answers in all, %d failed between the start and the first answer of the restored state (%s after the start); from then on: %d, %d not from it",
		len(answers), failedBefore, restoredAt.Sub(started).Round(time.Millisecond), total, failedAfter)
	if failedAfter > 0 || total < 50 {
		t.Fatalf("%d of %d requests after the router served the restored state failed or reached a removed revision; last: %s\nrouter log:\n%s",
			failedAfter, total, lastFail, r.Log())
	}
	if st := r.Status(t); st.Epoch != after.Epoch || st.Cluster != before.Cluster {
		t.Fatalf("router status at the end: %+v", st)
	}
}
