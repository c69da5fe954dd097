//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/router"
)

// TestSentinelSharedDeliversTables runs a controller and a router on the
// shared sentinels of the test environment: the router takes the
// controller's table and hears its heartbeat through the master the
// sentinels name.
func TestSentinelSharedDeliversTables(t *testing.T) {
	t.Parallel()
	sentinels, master := testenv.Sentinels(t)
	channel := "longshoreman-test-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + testenv.UniqueApp(t, "ch")
	c := MustServe(t, filepath.Join(t.TempDir(), "ls.db"), map[string]string{
		"REDIS_SENTINELS": sentinels, "REDIS_MASTER": master, "LONGSHOREMAN_CHANNEL": channel,
		"LONGSHOREMAN_REPUBLISH": "300ms", "LONGSHOREMAN_ROUTES_KEY": testRoutesKey})
	r := StartRouterEnv(t, "127.0.0.1:1", "REDIS_SENTINELS="+sentinels, "REDIS_MASTER="+master, "LONGSHOREMAN_CHANNEL="+channel)
	var st router.Status
	testenv.Eventually(t, 20*time.Second, "router applies the controller's table through the sentinels' master", func() bool {
		st = r.Status(t)
		return st.Connected && st.Version > 0 && st.Cluster != ""
	})
	first := st.Received
	testenv.Eventually(t, 20*time.Second, "router hears the heartbeat", func() bool {
		return r.Status(t).Received >= first+3
	})
	health := mustCall(t, c, "GET", "/healthz", "")
	if s, _ := health["redis"].(string); !strings.HasPrefix(s, "connected") {
		t.Errorf("controller's healthz redis = %v, want connected", health["redis"])
	}
}

// TestSentinelFailoverReachesRouter runs a controller and a router on a
// private master, replica and three sentinels, with an app deployed through
// the router. The master is killed -9: once the sentinels promote the
// replica, a deploy made through the API reaches the router and the
// heartbeat keeps reaching it, with neither process restarted.
func TestSentinelFailoverReachesRouter(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	set := testenv.StartSentinels(t)
	env := []string{"REDIS_SENTINELS=" + set.Addrs(), "REDIS_MASTER=" + set.Master}
	c := StartController(t, filepath.Join(t.TempDir(), "ls.db"), append(env, "LONGSHOREMAN_REPUBLISH=1s")...)
	c.MustCall(t, "POST", "/hosts", `{"host":"`+hosts[0]+`"}`)
	app := testenv.App(t, "sentinel")
	c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":1}`)

	r := StartRouterEnv(t, "127.0.0.1:1", env...)
	testenv.Eventually(t, 20*time.Second, "router routes the app before the failover", func() bool {
		status, body, _ := r.Get(app)
		return status == 200 && strings.Contains(body, "version=1")
	})
	before := r.Status(t)

	killedAt := time.Now()
	old := set.KillMaster()
	promoted := set.WaitFailover(old, 60*time.Second)
	t.Logf("master %s killed; the sentinels promoted %s after %s", old, promoted, time.Since(killedAt).Round(100*time.Millisecond))

	c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "2")+`"}`)
	testenv.Eventually(t, 60*time.Second, "router routes the deploy made after the failover", func() bool {
		status, body, _ := r.Get(app)
		return status == 200 && strings.Contains(body, "version=2")
	})
	after := r.Status(t)
	if !after.Connected || after.Version <= before.Version {
		t.Fatalf("router status after the failover: %+v (before: %+v)\nrouter log:\n%s", after, before, r.Log())
	}
	// The heartbeat (1s) keeps coming through the new master.
	testenv.Eventually(t, 20*time.Second, "router hears the heartbeat through the new master", func() bool {
		return r.Status(t).Received >= after.Received+3
	})
	for name, p := range map[string]*os.Process{"controller": c.cmd.Process, "router": r.cmd.Process} {
		if err := p.Signal(syscall.Signal(0)); err != nil {
			t.Fatalf("%s is not running after the failover: %v", name, err)
		}
	}
	// The router's subscription moved to the promoted master.
	if n, err := testenv.Command(promoted, "PUBSUB", "NUMSUB", cluster.DefaultChannel); err != nil || len(n) != 2 || n[1] == "0" {
		t.Errorf("PUBSUB NUMSUB on the promoted master %s: %q %v, want the router subscribed there", promoted, n, err)
	}

}
