//go:build integration

package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/command"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// callWithin sends an authenticated request that must be answered within
// limit (a generous bound: it fails only when the controller hangs).
func callWithin(t *testing.T, c *command.ServeCommand, limit time.Duration, method, path, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, c.URL()+path, strings.NewReader(body))
	req.Header.Set("X-Auth", "t0ken-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: no answer within %s while a backup is read slowly: %v", method, path, limit, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
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
