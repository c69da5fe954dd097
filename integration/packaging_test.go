//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// TestPackagingImage builds the controller's image the way the Dockerfile
// says (scripts/build, then docker build), runs the controller from it on
// the test dockerd and talks to its API.
func TestPackagingImage(t *testing.T) {
	t.Parallel()
	testenv.Docker(t, "version", "--format", "{{.Server.Version}}") // skips without the test daemon

	// A build context of its own: the static binary and the Dockerfile,
	// so the repository is left as it was.
	ctxDir := t.TempDir()
	out, err := exec.Command("../scripts/build", filepath.Join(ctxDir, "longshoreman")).CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/build: %v\n%s", err, out)
	}
	dockerfile, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), dockerfile, 0o644); err != nil {
		t.Fatal(err)
	}

	image := "longshoreman-packaging-test:" + strconv.FormatInt(time.Now().UnixNano(), 10)
	testenv.Docker(t, "build", "-q", "-t", image, ctxDir)
	t.Cleanup(func() {
		if out, err := testenv.DockerErr(t, "rmi", "-f", image); err != nil {
			t.Errorf("removing %s: %v: %s", image, err, out)
		}
	})

	const token = "packaging-test-token"
	const label = "packaging-test"
	var id string
	t.Cleanup(func() {
		if t.Failed() && id != "" {
			logs, _ := testenv.DockerErr(t, "logs", id)
			t.Logf("controller container log:\n%s", logs)
		}
		// By label, so a container that was created but failed to start
		// goes too; -v takes its anonymous /data volume with it.
		if ids, _ := testenv.DockerErr(t, "ps", "-aq", "--filter", "label=longshoreman.app="+label); ids != "" {
			if out, err := testenv.DockerErr(t, append([]string{"rm", "-f", "-v"}, strings.Fields(ids)...)...); err != nil {
				t.Errorf("removing the controller container: %v: %s", err, out)
			}
		}
	})
	id = testenv.Docker(t, "run", "-d",
		"--label", "longshoreman.app="+label,
		"-p", "127.0.0.1::3000",
		"-e", "LONGSHOREMAN_TOKEN="+token,
		image, "serve", "--init")

	// "127.0.0.1:49153", one line per published address.
	ports := strings.Fields(testenv.Docker(t, "port", id, "3000/tcp"))
	if len(ports) == 0 {
		t.Fatalf("docker port %s 3000/tcp published nothing", id)
	}
	addr := ports[0]

	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body := testenv.HTTPGet(t, addr, "/healthz", time.Until(deadline))
		if status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /healthz = %d %s; want 200 within 30s", status, body)
		}
		time.Sleep(100 * time.Millisecond)
	}

	status, body := apiGet(t, addr, "/apps", token)
	var apps map[string]any
	if err := json.Unmarshal([]byte(body), &apps); err != nil {
		t.Fatalf("GET /apps answered %d %q: %v", status, body, err)
	}
	if want := map[string]any{"error": false, "apps": []any{}}; status != http.StatusOK || !reflect.DeepEqual(apps, want) {
		t.Fatalf("GET /apps = %d %s; want 200 {\"error\":false,\"apps\":[]}", status, body)
	}
	if status, body := apiGet(t, addr, "/apps", "wrong-token"); status != http.StatusUnauthorized {
		t.Errorf("GET /apps with a wrong token = %d %s; want 401", status, body)
	}

	// The data file is in the volume, where the Dockerfile puts it.
	if logs := testenv.Docker(t, "logs", id); !strings.Contains(logs, "/data/longshoreman.db") {
		t.Errorf("the controller's log does not name /data/longshoreman.db as its data file:\n%s", logs)
	}
	if mounts := testenv.Docker(t, "inspect", "--format", "{{range .Mounts}}{{.Destination}} {{end}}", id); strings.TrimSpace(mounts) != "/data" {
		t.Errorf("container mounts %q; want the /data volume", mounts)
	}
	// The routers' key, as the Dockerfile says to get it, from the running
	// controller's data file.
	if key := strings.TrimSpace(testenv.Docker(t, "exec", id, "/longshoreman", "token", "--routes-key")); len(key) != 64 {
		t.Errorf("token --routes-key in the container printed %q; want a 64-character key", key)
	}
}

func apiGet(t *testing.T, addr, path, token string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Auth", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(body)
}
