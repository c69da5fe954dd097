//go:build integration

package integration

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// TestSoak loops random deploys, env changes, container kills and
// controller kill -9 with restarts for LONGSHOREMAN_SOAK (default 45s;
// scripts/soak sets 5m), checking after every step that every
// routed address answers, every app has its count of healthy instances, no
// container lacks a record, and the data file opens.
func TestSoak(t *testing.T) {
	t.Parallel()
	limit := 45 * time.Second
	if v := os.Getenv("LONGSHOREMAN_SOAK"); v != "" {
		var err error
		if limit, err = time.ParseDuration(v); err != nil {
			t.Fatalf("LONGSHOREMAN_SOAK=%q is not a duration such as 5m", v)
		}
	}
	hosts := testenv.Hosts(t)
	redis := testenv.StartRedis(t)
	path := filepath.Join(t.TempDir(), "ls.db")
	c := StartController(t, path, "REDIS_HOST=127.0.0.1", "REDIS_PORT="+redis.Addr[strings.LastIndex(redis.Addr, ":")+1:])
	c.AddHosts(t, hosts...)
	apps := []string{testenv.UniqueApp(t, "soak-a"), testenv.UniqueApp(t, "soak-b")}
	for _, app := range apps {
		t.Cleanup(func() { testenv.RemoveContainers(t, app) })
		c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":2}`)
	}
	controller := c.MustCall(t, "GET", "/routes", "")["controller"].(string)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	counts := map[string]int{}
	start := time.Now()
	steps, faults := 0, 0
	for time.Since(start) < limit {
		app := apps[rng.Intn(len(apps))]
		switch op := rng.Intn(5); op {
		case 0:
			c.Call("POST", "/"+app+"/deploy", fmt.Sprintf(`{"image":"%s"}`, testenv.Image(t, fmt.Sprint(1+rng.Intn(2)))))
			counts["deploy"]++
		case 1:
			c.Call("POST", "/"+app+"/envs", fmt.Sprintf(`{"env":"STEP=%d"}`, steps))
			counts["env change"]++
		case 2:
			insts := anyStrings(c.MustCall(t, "GET", "/"+app+"/instances", "")["instances"])
			if len(insts) > 0 {
				out, _ := testenv.DockerErr(t, "ps", "-q", "--filter", "label="+cluster.LabelApp+"="+app, "--filter", "publish="+insts[0][strings.LastIndex(insts[0], ":")+1:])
				if id := strings.TrimSpace(out); id != "" {
					testenv.DockerErr(t, "kill", strings.Fields(id)[0])
					faults++
					counts["container kill"]++
				}
			}
		case 3:
			go c.Call("POST", "/"+app+"/deploy", fmt.Sprintf(`{"image":"%s"}`, testenv.Image(t, fmt.Sprint(1+rng.Intn(2)))))
			time.Sleep(time.Duration(rng.Intn(2000)) * time.Millisecond)
			c.Kill()
			c.Start(t)
			faults++
			counts["controller kill -9"]++
		case 4:
			c.Kill()
			c.Start(t)
			counts["restart"]++
		}
		steps++
		for _, app := range apps {
			checkRecovered(t, c, app, controller, hosts, fmt.Sprintf("step %d", steps), nil)
		}
	}
	t.Logf("soak: %d steps in %s, %d faults injected (%v), invariant violations: 0", steps, time.Since(start).Round(time.Second), faults, counts)
}
