//go:build integration

package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// envRequest sends an env change the way the 2014 CLI did: a form-encoded
// body, one request per variable. It returns the status and the decoded
// answer.
func envRequest(c *Controller, method, path, form string) (int, map[string]any, error) {
	req, _ := http.NewRequest(method, c.URL+path, strings.NewReader(form))
	req.Header.Set("X-Auth", "t0ken-0123456789")
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("answer %q: %v", b, err)
	}
	return resp.StatusCode, out, nil
}

// concurrently sends n env changes at once and fails the test unless each
// answers 200 without error.
func concurrently(t *testing.T, c *Controller, n int, send func(i int) (int, map[string]any, error)) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, out, err := send(i)
			if status != 200 || err != nil || out["error"] != false {
				mu.Lock()
				failed = append(failed, fmt.Sprintf("change %d: %d %v %v", i, status, out, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d of %d concurrent env changes failed:\n%s\n%s", len(failed), n, strings.Join(failed, "\n"), c.Log())
	}
}

func revisionCount(t *testing.T, c *Controller, app string) int {
	t.Helper()
	h, _ := c.MustCall(t, "GET", "/apps/"+app+"/history", "")["history"].([]any)
	return len(h)
}

// progressStream is an ndjson answer read line by line.
type progressStream struct {
	lines chan map[string]any
}

func streamEnv(t *testing.T, c *Controller, method, path, form string) *progressStream {
	t.Helper()
	contentType := ""
	if form != "" {
		contentType = "application/x-www-form-urlencoded"
	}
	return streamProgress(t, c, method, path, contentType, form)
}

// streamProgress sends body (of contentType, none when empty) asking for
// the ndjson progress stream, and returns the stream, read line by line.
func streamProgress(t *testing.T, c *Controller, method, path, contentType, body string) *progressStream {
	t.Helper()
	resp := c.Progress(t, method, path, contentType, body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-ndjson") {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("%s %s = %d %s", method, path, resp.StatusCode, b)
	}
	s := &progressStream{lines: make(chan map[string]any, 100)}
	go func() {
		defer resp.Body.Close()
		defer close(s.lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil {
				s.lines <- line
			}
		}
	}()
	return s
}

// until returns the first line whose step is step, failing on the final
// answer or after timeout.
func (s *progressStream) until(t *testing.T, step string, timeout time.Duration) map[string]any {
	t.Helper()
	return s.await(t, timeout, fmt.Sprintf("a %q step", step), func(line map[string]any) bool {
		if _, final := line["error"]; final && line["step"] != step {
			t.Fatalf("the stream ended with %v before a %q step", line, step)
		}
		return line["step"] == step
	})
}

// final returns the stream's last line, its answer.
func (s *progressStream) final(t *testing.T, timeout time.Duration) map[string]any {
	t.Helper()
	return s.await(t, timeout, "a final answer", func(line map[string]any) bool {
		_, final := line["error"]
		return final
	})
}

// await returns the first line match is true of, failing when the stream
// ends or timeout passes before it (what names the line awaited).
func (s *progressStream) await(t *testing.T, timeout time.Duration, what string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	return testenv.Receive(t, s.lines, timeout, what, match)
}

// TestConcurrentEnvChangesThroughRouter sends env changes the way the 2014
// CLI did (`envs:set` of five variables: five POSTs at the same moment) to
// a deployed app while a client goes through the router: every one
// answers 200, they make one or two revisions rather than five, every
// instance has all five values, and no request through the router fails.
// The same for five concurrent DELETEs; and a deploy sent during an env
// change still gets 409, while an env change sent then waits and says so.
func TestConcurrentEnvChangesThroughRouter(t *testing.T) {
	t.Parallel()
	c, r, app := routedApp(t, "envmerge")
	load := StartLoad(r, app, 1000000, 10*time.Minute)
	stopped := false
	stopLoad := func() {
		if stopped {
			return
		}
		stopped = true
		total, failures, _, lastErr := load.Stop()
		t.Logf("%d requests through the router, %d failed", total, failures)
		if failures != 0 || total < 50 {
			t.Errorf("%d of %d requests through the router failed during the env changes; last: %s\nrouter log:\n%s", failures, total, lastErr, r.Log())
		}
	}
	t.Cleanup(stopLoad)

	const n = 5
	key := func(i int) string { return fmt.Sprintf("MERGE_%d", i) }
	value := func(i int) string { return fmt.Sprintf("value %d", i) }
	instancesHave := func(what string, check func(inst string, i int) string) {
		t.Helper()
		insts := anyStrings(c.MustCall(t, "GET", "/apps/"+app+"/instances", "")["instances"])
		if len(insts) != 2 {
			t.Fatalf("%s: %d routed instances %v, want 2", what, len(insts), insts)
		}
		for _, inst := range insts {
			for i := range n {
				if problem := check(inst, i); problem != "" {
					t.Errorf("%s: instance %s: %s", what, inst, problem)
				}
			}
		}
	}

	t.Run("five POSTs at once", func(t *testing.T) {
		before := revisionCount(t, c, app)
		concurrently(t, c, n, func(i int) (int, map[string]any, error) {
			return envRequest(c, "POST", "/apps/"+app+"/envs", url.Values{"env": {key(i) + "=" + value(i)}}.Encode())
		})
		made := revisionCount(t, c, app) - before
		t.Logf("five concurrent env POSTs made %d revision(s)", made)
		if made < 1 || made > 2 {
			t.Fatalf("five concurrent env POSTs made %d revisions, want 1 or 2", made)
		}
		instancesHave("after the POSTs", func(inst string, i int) string {
			if status, body := testenv.HTTPGet(t, inst, "/env/"+key(i), 10*time.Second); status != 200 || !strings.Contains(body, value(i)) {
				return fmt.Sprintf("GET /env/%s = %d %q, want %q", key(i), status, body, value(i))
			}
			return ""
		})
	})

	t.Run("five DELETEs at once", func(t *testing.T) {
		before := revisionCount(t, c, app)
		concurrently(t, c, n, func(i int) (int, map[string]any, error) {
			return envRequest(c, "DELETE", "/apps/"+app+"/envs/"+key(i), "")
		})
		made := revisionCount(t, c, app) - before
		t.Logf("five concurrent env DELETEs made %d revision(s)", made)
		if made < 1 || made > 2 {
			t.Fatalf("five concurrent env DELETEs made %d revisions, want 1 or 2", made)
		}
		instancesHave("after the DELETEs", func(inst string, i int) string {
			if status, body := testenv.HTTPGet(t, inst, "/env/"+key(i), 10*time.Second); status != 404 {
				return fmt.Sprintf("GET /env/%s = %d %q, want 404", key(i), status, body)
			}
			return ""
		})
		if envs := c.MustCall(t, "GET", "/apps/"+app+"/envs", "")["envs"].([]any); len(envs) != 0 {
			t.Fatalf("envs %v after removing every one", envs)
		}
	})

	t.Run("deploy during an env change", func(t *testing.T) {
		before := revisionCount(t, c, app)
		first := streamEnv(t, c, "POST", "/apps/"+app+"/envs", "env=FIRST=1")
		rev := first.until(t, "revision", time.Minute)
		status, out := c.Call("POST", "/apps/"+app+"/deploy", `{"image":"`+testenv.Image(t, "2")+`"}`)
		if msg, _ := out["error"].(string); status != 409 || !strings.Contains(msg, "env change") {
			t.Fatalf("deploy during an env change = %d %v, want 409 naming the env change", status, out)
		}
		second := streamEnv(t, c, "POST", "/apps/"+app+"/envs", "env=SECOND=2")
		waiting := second.until(t, "waiting", time.Minute)
		if msg, _ := waiting["message"].(string); !strings.Contains(msg, fmt.Sprint(before+1)) || !strings.Contains(msg, "SECOND") {
			t.Errorf("waiting line %v, want it to name revision %d (%v) and SECOND", waiting, before+1, rev["message"])
		}
		for name, s := range map[string]*progressStream{"first": first, "second": second} {
			if answer := s.final(t, 5*time.Minute); answer["error"] != false {
				t.Fatalf("the %s env change answered %v", name, answer)
			}
		}
		if made := revisionCount(t, c, app) - before; made != 2 {
			t.Fatalf("%d revisions made, want 2: FIRST, then SECOND after it", made)
		}
		insts := anyStrings(c.MustCall(t, "GET", "/apps/"+app+"/instances", "")["instances"])
		for _, inst := range insts {
			for _, kv := range []string{"FIRST=1", "SECOND=2"} {
				k, v, _ := strings.Cut(kv, "=")
				if status, body := testenv.HTTPGet(t, inst, "/env/"+k, 10*time.Second); status != 200 || !strings.Contains(body, v) {
					t.Errorf("instance %s: GET /env/%s = %d %q", inst, k, status, body)
				}
			}
		}
	})
	t.Run("the CLI's envs:set", func(t *testing.T) {
		before := revisionCount(t, c, app)
		cmd := exec.Command(Binary(t), "-a", app, "envs:set", "CLI_A=1", "CLI_B=2", "CLI_C=3")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LONGSHOREMAN_URL=" + c.URL, "LONGSHOREMAN_TOKEN=t0ken-0123456789"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("envs:set: %v\n%s", err, out)
		}
		summary := regexp.MustCompile(`(?m)^Set CLI_A, CLI_B, CLI_C on ` + regexp.QuoteMeta(app) + ` \(restarted\): revision \d+, 2 instances`)
		if n := len(summary.FindAll(out, -1)); n != 1 || strings.Count(string(out), "Set ") != 1 {
			t.Fatalf("envs:set printed %d summaries, want one:\n%s", n, out)
		}
		if made := revisionCount(t, c, app) - before; made < 1 || made > 2 {
			t.Fatalf("envs:set of three vars made %d revisions, want 1 or 2:\n%s", made, out)
		}
		for _, inst := range anyStrings(c.MustCall(t, "GET", "/apps/"+app+"/instances", "")["instances"]) {
			for i, k := range []string{"CLI_A", "CLI_B", "CLI_C"} {
				if status, body := testenv.HTTPGet(t, inst, "/env/"+k, 10*time.Second); status != 200 || !strings.Contains(body, fmt.Sprint(i+1)) {
					t.Errorf("instance %s: GET /env/%s = %d %q", inst, k, status, body)
				}
			}
		}
	})
	stopLoad()
}
