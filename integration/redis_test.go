//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// TestRedisPassword runs a redis-server that requires a password: the
// controller connects with REDIS_PASSWORD and /healthz says so; with a
// wrong one it still serves and /healthz says what is wrong.
func TestRedisPassword(t *testing.T) {
	t.Parallel()
	testenv.Redis(t)
	port := testenv.FreePort(t)
	cmd := exec.Command("redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--requirepass", "pw-123", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	for password, want := range map[string]string{"pw-123": "connected", "wrong": "not connected"} {
		c := MustServe(t, filepath.Join(t.TempDir(), "ls.db"), map[string]string{"REDIS_PORT": fmt.Sprint(port), "REDIS_PASSWORD": password, "LONGSHOREMAN_REPUBLISH": "200ms"})
		deadline := time.Now().Add(10 * time.Second)
		var got string
		for time.Now().Before(deadline) {
			_, b := call(t, c, "GET", "/healthz", "") // the details need the token
			var body map[string]any
			json.Unmarshal(b, &body)
			got, _ = body["redis"].(string)
			if len(got) >= len(want) && got[:len(want)] == want {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if len(got) < len(want) || got[:len(want)] != want {
			t.Fatalf("REDIS_PASSWORD=%s: healthz redis = %q, want %q...", password, got, want)
		}
		c.Close()
	}
}
