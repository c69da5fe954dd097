//go:build integration

package integration

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// scopedCall sends a request with token to url and returns the status and
// the answer's error ("" for none).
func scopedCall(t *testing.T, url, token, method, path, body string) (int, string, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
	req.Header.Set("X-Auth", token)
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, url, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s%s = %d, not JSON: %v", method, url, path, resp.StatusCode, err)
	}
	msg, _ := out["error"].(string)
	return resp.StatusCode, msg, out
}

// TestScopedTokensOnFollowers runs two controllers on one etcd prefix. A
// deploy token made through the follower works on both: the follower
// serves its reads, forwards its writes to the leader, which checks it
// again against the shared store, and refuses what its scope lacks
// without forwarding. Removed on the leader, the token is refused by the
// follower at the first request after the removal answered (well within
// a second: every lookup reads etcd). An expired token is refused on both.
func TestScopedTokensOnFollowers(t *testing.T) {
	t.Parallel()
	url := etcdTestURL(t)
	_, _, urls, leaderIdx := serveEtcdControllers(t, url, 2, nil)
	leader, follower := urls[leaderIdx], urls[1-leaderIdx]
	const root = "t0ken-0123456789"
	mine, other := "mine.tokens.example.com", "other.tokens.example.com"

	status, msg, out := scopedCall(t, follower, root, "POST", "/tokens", `{"name":"ci","scope":"deploy","apps":["`+mine+`"]}`)
	secret, _ := out["token"].(string)
	if status != 200 || secret == "" {
		t.Fatalf("POST /tokens through the follower = %d %q %v", status, msg, out)
	}
	if status, msg, _ := scopedCall(t, follower, root, "POST", "/apps", `{"app":"`+other+`"}`); status != 200 {
		t.Fatalf("creating %s with the root token = %d %q", other, status, msg)
	}
	for _, u := range []string{follower, leader} {
		if status, msg, _ := scopedCall(t, u, secret, "GET", "/apps", ""); status != 200 {
			t.Fatalf("GET /apps with ci at %s = %d %q", u, status, msg)
		}
	}
	// A write through the follower is forwarded with the token and
	// checked again by the leader.
	if status, msg, _ := scopedCall(t, follower, secret, "POST", "/apps", `{"app":"`+mine+`"}`); status != 200 {
		t.Fatalf("POST /apps of its app with ci through the follower = %d %q", status, msg)
	}
	for _, c := range []struct{ method, path, body, want string }{
		{"POST", "/apps", `{"app":"` + other + `"}`, "it is limited to apps " + mine},
		{"POST", "/apps/" + other + "/settings", `{"batch":2}`, "it is limited to apps " + mine},
		{"POST", "/hosts", `{"host":"127.0.0.9"}`, "that needs scope admin"},
		{"GET", "/backup", "", "that needs scope admin"},
	} {
		for _, u := range []string{follower, leader} {
			if status, msg, _ := scopedCall(t, u, secret, c.method, c.path, c.body); status != 403 || !strings.Contains(msg, c.want) || !strings.Contains(msg, `Token "ci"`) {
				t.Errorf("%s %s with ci at %s = %d %q; want 403 containing %q", c.method, c.path, u, status, msg, c.want)
			}
		}
	}

	if status, msg, _ := scopedCall(t, leader, root, "DELETE", "/tokens/ci", ""); status != 200 {
		t.Fatalf("DELETE /tokens/ci on the leader = %d %q", status, msg)
	}
	removed := time.Now()
	if status, msg, _ := scopedCall(t, follower, secret, "GET", "/apps", ""); status != 401 || msg != "Invalid token" {
		t.Fatalf("the follower's first read with a removed token = %d %q; want 401 Invalid token", status, msg)
	}
	if status, msg, _ := scopedCall(t, follower, secret, "POST", "/apps/"+mine+"/settings", `{"batch":2}`); status != 401 {
		t.Fatalf("the follower's first write with a removed token = %d %q; want 401", status, msg)
	}
	t.Logf("refused by the follower %s after the removal answered", time.Since(removed))

	status, msg, out = scopedCall(t, leader, root, "POST", "/tokens", `{"name":"brief","scope":"read","expires":"2s"}`)
	brief, _ := out["token"].(string)
	if status != 200 || brief == "" {
		t.Fatalf("POST /tokens brief = %d %q", status, msg)
	}
	expires, err := time.Parse(time.RFC3339, out["expires"].(string))
	if err != nil {
		t.Fatal(err)
	}
	deadline := expires.Add(30 * time.Second)
	for _, u := range []string{follower, leader} {
		for {
			status, msg, _ := scopedCall(t, u, brief, "GET", "/apps", "")
			if status == 401 && strings.Contains(msg, `Token "brief" expired at`) {
				break
			}
			if status != 200 || time.Now().After(deadline) {
				t.Fatalf("GET /apps with an expiring token at %s = %d %q; want 200, then 401 saying it expired", u, status, msg)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if time.Now().Before(expires) {
			t.Fatalf("refused as expired before %s", expires)
		}
	}
}
