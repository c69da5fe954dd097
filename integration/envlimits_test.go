//go:build integration

package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// envLimitAnswer sorts an env change's answer: "applied", "refused" (400
// at the env count limit), or the answer itself for anything else.
func envLimitAnswer(status int, out map[string]any) string {
	msg, _ := out["error"].(string)
	switch {
	case status == 200 && out["error"] == false:
		return "applied"
	case status == 400 && strings.Contains(msg, fmt.Sprintf("the limit is %d", cluster.MaxEnvs)):
		return "refused"
	}
	return fmt.Sprintf("%d %v", status, out)
}

// setEnvsAtOnce sends one POST /apps/APP/envs per key, all at once, and
// returns how many were applied and how many refused at the env limit;
// any other answer fails the test.
func setEnvsAtOnce(t *testing.T, c *Controller, app string, keys []string) (applied, refused int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Go(func() {
			got := envLimitAnswer(c.Call("POST", "/apps/"+app+"/envs", `{"env":"`+k+`=v"}`))
			mu.Lock()
			defer mu.Unlock()
			switch got {
			case "applied":
				applied++
			case "refused":
				refused++
			default:
				t.Errorf("env %s: %s; want it applied, or refused at the limit", k, got)
			}
		})
	}
	wg.Wait()
	return applied, refused
}

// slowEnvSet sends POST /apps/APP/envs for env with its body held back:
// the headers carry Expect: 100-continue, and it returns once the
// controller asked for the body, which it does when the handler reads it,
// after it loaded the app. finish sends the body and returns the answer.
func slowEnvSet(t *testing.T, c *Controller, app, env string) (finish func() (int, map[string]any)) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(c.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(2 * time.Minute))
	body := `{"env":"` + env + `"}`
	fmt.Fprintf(conn, "POST /apps/%s/envs HTTP/1.1\r\nHost: controller\r\nX-Auth: t0ken-0123456789\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n", app, len(body))
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil || !strings.Contains(line, " 100 ") {
		t.Fatalf("the controller answered %q (%v) to the headers; want 100 Continue", line, err)
	}
	if blank, err := br.ReadString('\n'); err != nil || blank != "\r\n" {
		t.Fatalf("after 100 Continue: %q, %v", blank, err)
	}
	return func() (int, map[string]any) {
		if _, err := io.WriteString(conn, body); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("answer %q: %v", b, err)
		}
		return resp.StatusCode, out
	}
}

// envCount returns how many envs GET /apps/APP/envs lists.
func envCount(t *testing.T, c *Controller, app string) int {
	t.Helper()
	list, _ := c.MustCall(t, "GET", "/apps/"+app+"/envs", "")["envs"].([]any)
	return len(list)
}

// TestConcurrentEnvSetsKeepTheLimit sends, to the controller binary, env
// sets that together pass MaxEnvs, on an app not deployed (each change
// stored at once) and on one running a real container (changes made into
// revisions). One request is a slow client's: the controller loaded the
// app for it with room for one more env, then another set took that room
// before its body arrived; it is refused with 400, not applied on top.
// Thirty sets sent at once into four free places: exactly four are
// applied. Neither the app nor any revision ever holds more than the
// limit.
func TestConcurrentEnvSetsKeepTheLimit(t *testing.T) {
	c := StartController(t, filepath.Join(t.TempDir(), "ls.db"))
	c.AddHosts(t, testenv.Hosts(t)...)
	app := testenv.App(t, "envlimit")
	c.MustCall(t, "POST", "/apps", `{"app":"`+app+`"}`)
	var fill []string
	for i := range cluster.MaxEnvs - 1 {
		fill = append(fill, fmt.Sprintf("K%d", i))
	}
	for i := 0; i < len(fill); i += 20 {
		if applied, refused := setEnvsAtOnce(t, c, app, fill[i:min(i+20, len(fill))]); refused != 0 {
			t.Fatalf("filling the envs: %d applied, %d refused", applied, refused)
		}
	}

	for _, deployed := range []bool{false, true} {
		if deployed {
			c.MustCall(t, "POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":1}`)
		}
		if n := envCount(t, c, app); n != cluster.MaxEnvs-1 {
			t.Fatalf("deployed %t: %d envs before the slow set; want %d", deployed, n, cluster.MaxEnvs-1)
		}
		finish := slowEnvSet(t, c, app, fmt.Sprintf("SLOW%t=v", deployed))
		c.MustCall(t, "POST", "/apps/"+app+"/envs", fmt.Sprintf(`{"env":"FAST%t=v"}`, deployed))
		if got := envLimitAnswer(finish()); got != "refused" {
			t.Errorf("deployed %t: the slow set found the app with room, then full: %s; want refused at the limit", deployed, got)
		}
		if n := envCount(t, c, app); n != cluster.MaxEnvs {
			t.Fatalf("deployed %t: the app holds %d envs after the slow set; want %d\n%s", deployed, n, cluster.MaxEnvs, c.Log())
		}

		// Four places free, thirty sets at once.
		for _, k := range fill[:4] {
			c.MustCall(t, "DELETE", "/apps/"+app+"/envs/"+k, "")
		}
		fill = fill[4:]
		var keys []string
		for i := range 30 {
			keys = append(keys, fmt.Sprintf("NEW%t%d", deployed, i))
		}
		if applied, refused := setEnvsAtOnce(t, c, app, keys); applied != 4 || refused != len(keys)-4 {
			t.Errorf("deployed %t: %d applied and %d refused; want 4 and %d", deployed, applied, refused, len(keys)-4)
		}
		if n := envCount(t, c, app); n != cluster.MaxEnvs {
			t.Errorf("deployed %t: the app holds %d envs; want %d", deployed, n, cluster.MaxEnvs)
		}
		// Room for the next round.
		c.MustCall(t, "DELETE", "/apps/"+app+"/envs/"+fmt.Sprintf("FAST%t", deployed), "")
	}
	for _, h := range c.MustCall(t, "GET", "/apps/"+app+"/history", "")["history"].([]any) {
		rev := h.(map[string]any)
		if envs, _ := rev["envs"].([]any); len(envs) > cluster.MaxEnvs {
			t.Errorf("revision %v holds %d envs, over the limit", rev["revision"], len(envs))
		}
	}
}
