//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/command"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
)

// TestServeOnEtcd runs the controller on an etcd prefix: without --init
// an empty prefix is refused as a missing data file is; with it the API
// writes to etcd, a restart keeps everything, and GET /backup answers a
// data file that a single controller opens as the same cluster.
func TestServeOnEtcd(t *testing.T) {
	t.Parallel()
	url := etcdTestURL(t)
	_, _, err := openServe(t, etcdServeEnv(t, url))
	if cluster.ErrorCode(err) != cluster.ENOTFOUND || !strings.Contains(command.ErrorText(err), "--init") || !strings.Contains(command.ErrorText(err), "/longshoreman-test/") {
		t.Fatalf("serve on an empty prefix without --init: %v", err)
	}

	c := MustServe(t, url, etcdServeEnv(t, url))
	mustCall(t, c, "POST", "/apps", `{"app":"a.example.com"}`)
	mustCall(t, c, "POST", "/a.example.com/envs", `{"env":"K=v=1"}`)
	mustCall(t, c, "POST", "/hosts", `{"host":"127.0.0.41"}`)
	clusterID := c.Store().ClusterID()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	env := etcdServeEnv(t, url)
	env["LONGSHOREMAN_INIT"] = ""
	c = MustServe(t, url, env)
	apps := mustCall(t, c, "GET", "/apps", "")
	envs := mustCall(t, c, "GET", "/a.example.com/envs", "")
	hosts := mustCall(t, c, "GET", "/hosts", "")
	if got := fmt.Sprint(apps["apps"], envs["envs"], hosts["hosts"]); got != "[a.example.com] [K=v=1] [127.0.0.41]" || c.Store().ClusterID() != clusterID {
		t.Fatalf("after restart: %s, cluster %s (was %s)", got, c.Store().ClusterID(), clusterID)
	}

	status, body := call(t, c, "GET", "/backup?keys=true", "")
	if status != 200 {
		t.Fatalf("GET /backup = %d %s", status, body)
	}
	path := filepath.Join(t.TempDir(), "restored.db")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(path, db.Options{SecretsKey: testSecretsKey})
	if err != nil {
		t.Fatalf("the backup of an etcd store does not open as a data file: %v", err)
	}
	defer d.Close()
	app, err := d.App("a.example.com")
	if err != nil || app.Envs["K"] != "v=1" || d.ClusterID() != clusterID || d.ControllerID() != c.Store().ControllerID() {
		t.Fatalf("restored: %+v, %v, cluster %s controller %s", app, err, d.ClusterID(), d.ControllerID())
	}
}
