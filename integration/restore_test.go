//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
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
