package http_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
)

func postEnv(tb testing.TB, srv *httptest.Server, app, env string) (int, map[string]any) {
	tb.Helper()
	status, b := send(tb, srv.URL, testToken, "POST", "/apps/"+app+"/envs", `{"env":"`+env+`"}`)
	var out map[string]any
	if err := json.Unmarshal([]byte(b), &out); err != nil {
		tb.Fatalf("answer %q: %v", b, err)
	}
	return status, out
}

// Env changes sent together are merged, and the env limits hold for the
// envs the app would have after every merged change: of three sent to an
// app two below MaxEnvs, exactly one is refused with 400 before it is
// queued, and the app ends with MaxEnvs envs. On the app before its
// deploy, every change is stored at once.
func TestMergedEnvChangesKeepTheLimits(t *testing.T) {
	srv := mustOpenFakeServer(t)
	app := "limits.example.com"
	if status, b := send(t, srv.URL, testToken, "POST", "/apps", `{"app":"`+app+`"}`); status != 200 {
		t.Fatalf("creating the app: %d %s", status, b)
	}
	var wg sync.WaitGroup
	for i := range cluster.MaxEnvs - 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if status, out := postEnv(t, srv, app, fmt.Sprintf("K%d=v", i)); status != 200 {
				t.Errorf("env %d on the undeployed app: %d %v", i, status, out)
			}
		}()
	}
	wg.Wait()
	if _, _, last := deployStream(t, srv, app, `{"image": "registry.example/app:1", "count": 2}`); last["error"] != false {
		t.Fatalf("deploy: %v", last)
	}
	statuses := make([]int, 3)
	answers := make([]map[string]any, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], answers[i] = postEnv(t, srv, app, fmt.Sprintf("NEW%d=v", i))
		}()
	}
	wg.Wait()
	ok, refused := 0, 0
	for i, status := range statuses {
		msg, _ := answers[i]["error"].(string)
		switch {
		case status == 200:
			ok++
		case status == 400 && strings.Contains(msg, fmt.Sprintf("the limit is %d", cluster.MaxEnvs)):
			refused++
		default:
			t.Errorf("change %d: %d %v", i, status, answers[i])
		}
	}
	if ok != 2 || refused != 1 {
		t.Fatalf("%d accepted and %d refused, want 2 and 1: %v %v", ok, refused, statuses, answers)
	}
	_, b := send(t, srv.URL, testToken, "GET", "/apps/"+app+"/envs", "")
	var envs struct{ Envs []string }
	if err := json.Unmarshal([]byte(b), &envs); err != nil || len(envs.Envs) != cluster.MaxEnvs {
		t.Fatalf("%d envs (%v), want %d", len(envs.Envs), err, cluster.MaxEnvs)
	}
}
