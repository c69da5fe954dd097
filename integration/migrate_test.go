//go:build integration

package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/command"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/storetest"
)

// etcdTestURL returns the URL of a new prefix on the test etcd cluster,
// emptied when the test ends.
func etcdTestURL(t testing.TB) string {
	t.Helper()
	url := fmt.Sprintf("etcd://%s/longshoreman-test/%s-%d", strings.Join(testenv.Etcd(t), ","), t.Name(), time.Now().UnixNano())
	t.Cleanup(func() {
		s, err := command.OpenStore(url, true, testGetenv)
		if err != nil {
			t.Errorf("emptying %s: %v", url, err)
			return
		}
		defer s.Close()
		var all []cluster.Record
		s.Records(func(r cluster.Record) error {
			all = append(all, cluster.Record{Kind: r.Kind, Scope: r.Scope, Key: r.Key})
			return nil
		})
		for i := 0; i < len(all); i += cluster.RecordBatch {
			if err := s.PutRecords(all[i:min(i+cluster.RecordBatch, len(all))]); err != nil {
				t.Errorf("emptying %s: %v", url, err)
			}
		}
	})
	return url
}

// diffButEpoch compares records except the epoch, which every open for
// writing raises.
func diffButEpoch(a, b []cluster.Record) string {
	var lines []string
	for _, l := range strings.Split(storetest.DiffRecords(a, b), "\n") {
		if l != "" && !strings.HasPrefix(l, "meta//epoch:") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

func runMigrate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := (&command.MigrateCommand{Stdout: &out, Getenv: func(k string) string {
		if k == cluster.SecretsKeyVar {
			return testSecretsKey
		}
		return os.Getenv(k)
	}}).Run(context.Background(), args)
	return out.String(), err
}

func fileRecords(t *testing.T, path string) []cluster.Record {
	t.Helper()
	d, err := db.Open(path, db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	return storetest.SortedRecords(t, d)
}

// TestMigrateRoundTrip copies a data file to etcd and back: the second
// file holds exactly the records of the first, and the etcd prefix opens
// as the same cluster.
func TestMigrateRoundTrip(t *testing.T) {
	t.Parallel()
	url := etcdTestURL(t)
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first.db"), filepath.Join(dir, "second.db")
	d, err := db.Open(first, db.Options{Create: true, SecretsKey: testSecretsKey})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Populate(t, d)
	// More records than one batch, and revisions larger than a batch's
	// bytes allow together.
	d.CreateApp("big.example.com")
	d.SetHistory(100)
	for range 40 {
		if err := d.CreateRevision(&cluster.Revision{App: "big.example.com", Envs: []string{"BIG=" + strings.Repeat("x", cluster.MaxEnvValueLength)}, Status: cluster.StatusFailed}); err != nil {
			t.Fatal(err)
		}
	}
	clusterID, controller := d.ClusterID(), d.ControllerID()
	d.Close()
	want := fileRecords(t, first)

	out, err := runMigrate(t, first, url)
	if err != nil {
		t.Fatalf("migrate file to etcd: %v\n%s", err, out)
	}
	if !strings.Contains(out, fmt.Sprintf("Copied %d records", len(want))) || !strings.Contains(out, "50 revisions") || !strings.Contains(out, clusterID) {
		t.Errorf("migrate said: %s (want %d records, 50 revisions, cluster %s)", out, len(want), clusterID)
	}
	s, err := command.OpenStore(url, false, testGetenv)
	if err != nil {
		t.Fatal(err)
	}
	if diff := diffButEpoch(want, storetest.SortedRecords(t, s)); diff != "" {
		t.Errorf("etcd records differ from the file's:\n%s", diff)
	}
	if s.ClusterID() != clusterID || s.ControllerID() != controller || s.Created() {
		t.Errorf("etcd store: cluster %s controller %s created %v; want %s %s false", s.ClusterID(), s.ControllerID(), s.Created(), clusterID, controller)
	}
	s.Close()

	out, err = runMigrate(t, url, second)
	if err != nil {
		t.Fatalf("migrate etcd to file: %v\n%s", err, out)
	}
	// Opening the prefix above raised its epoch; every other record is equal.
	if diff := diffButEpoch(want, fileRecords(t, second)); diff != "" {
		t.Fatalf("the round trip changed records:\n%s", diff)
	}
}

// TestMigrateRefusesANonEmptyTarget: without --force a target holding an
// app is refused and unchanged; with --force it becomes a copy of FROM.
func TestMigrateRefusesANonEmptyTarget(t *testing.T) {
	t.Parallel()
	url := etcdTestURL(t)
	dir := t.TempDir()
	from := filepath.Join(dir, "from.db")
	d, err := db.Open(from, db.Options{Create: true, SecretsKey: testSecretsKey})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Populate(t, d)
	d.Close()
	s, err := command.OpenStore(url, true, testGetenv)
	if err != nil {
		t.Fatal(err)
	}
	s.CreateApp("other.example.com")
	s.Close()

	out, err := runMigrate(t, from, url)
	if cluster.ErrorCode(err) != cluster.ECONFLICT || !strings.Contains(command.ErrorText(err), "--force") {
		t.Fatalf("migrate into a non-empty target: %v\n%s", err, out)
	}
	s, _ = command.OpenStore(url, false, testGetenv)
	if apps, _ := s.Apps(); len(apps) != 1 {
		t.Fatalf("the refused target changed: apps %v", apps)
	}
	s.Close()

	if out, err = runMigrate(t, "--force", from, url); err != nil || !strings.Contains(out, "Deleted") {
		t.Fatalf("migrate --force: %v\n%s", err, out)
	}
	s, _ = command.OpenStore(url, false, testGetenv)
	defer s.Close()
	want := fileRecords(t, from)
	if diff := diffButEpoch(want, storetest.SortedRecords(t, s)); diff != "" {
		t.Fatalf("after --force the target differs from FROM:\n%s", diff)
	}

	// A data file in use by a controller is refused as FROM.
	d, err = db.Open(from, db.Options{SecretsKey: testSecretsKey})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := runMigrate(t, from, filepath.Join(dir, "x.db")); cluster.ErrorCode(err) != cluster.ECONFLICT {
		t.Fatalf("migrate from a file in use: %v", err)
	}
}

// TestMigratedControllerAdoptsContainers deploys on a data file, stops the
// controller, migrates the file to etcd and starts a controller on the
// prefix (without --init): it serves the same instances and keeps the same
// containers running, neither replacing nor removing any.
func TestMigratedControllerAdoptsContainers(t *testing.T) {
	t.Parallel()
	hosts := testenv.Hosts(t)
	url := etcdTestURL(t)
	path := filepath.Join(t.TempDir(), "ls.db")
	c := StartController(t, path)
	c.AddHosts(t, hosts...)
	app := testenv.App(t, "migrate")
	c.MustCall(t, "POST", "/"+app+"/deploy", `{"image":"`+testenv.Image(t, "1")+`","count":2}`)
	before := anyStrings(c.MustCall(t, "GET", "/"+app+"/instances", "")["instances"])
	containers := func() string {
		return strings.Join(strings.Fields(testenv.Docker(t, "ps", "-q", "--no-trunc", "--filter", "label="+cluster.LabelApp+"="+app)), ",")
	}
	running := containers()
	if len(before) != 2 || strings.Count(running, ",") != 1 {
		t.Fatalf("deployed: instances %v, containers %s", before, running)
	}
	c.Kill()

	if out, err := runMigrate(t, path, url); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	e := StartController(t, url, "LONGSHOREMAN_INIT=")
	// Several reconcile passes (500ms each) go by; nothing may change.
	time.Sleep(3 * time.Second)
	after := anyStrings(e.MustCall(t, "GET", "/"+app+"/instances", "")["instances"])
	if strings.Join(after, ",") != strings.Join(before, ",") || containers() != running {
		t.Fatalf("on etcd: instances %v (were %v), containers %s (were %s)\n%s", after, before, containers(), running, e.Log())
	}
	mustAnswerAll(t, after)
	e.MustCall(t, "POST", "/"+app+"/scale", `{"count":3}`)
	waitFor(t, 60*time.Second, "the app scaled to 3 on the etcd store", func() bool {
		return len(anyStrings(e.MustCall(t, "GET", "/"+app+"/instances", "")["instances"])) == 3
	})
}
