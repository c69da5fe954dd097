package testenv

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// StartAuthRegistry runs Debian's docker-registry behind htpasswd (user,
// pass) on a free loopback port and returns its address once it refuses a
// request without them. With remote (a registry's host:port) it is a
// pull-through proxy of that registry, else it starts empty.
func StartAuthRegistry(tb testing.TB, user, pass, remote string) string {
	tb.Helper()
	Registry(tb) // fails like the other registry tests when there is none
	dir := tb.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(tb))
	config := fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s/data
http:
  addr: %s
auth:
  htpasswd:
    realm: longshoreman-test
    path: %s/htpasswd
`, dir, addr, dir)
	if remote != "" {
		config += "proxy:\n  remoteurl: http://" + remote + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(config), 0o600); err != nil {
		tb.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command("docker-registry", "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		tb.Fatalf("docker-registry: %v", err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); log.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return addr
			}
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(log.Name())
			tb.Fatalf("the htpasswd registry did not answer 401 on %s (last: %v):\n%s", addr, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
