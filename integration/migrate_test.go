//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/command"
	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/etcd"
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
	testenv.Eventually(t, 60*time.Second, "the app scaled to 3 on the etcd store", func() bool {
		return len(anyStrings(e.MustCall(t, "GET", "/"+app+"/instances", "")["instances"])) == 3
	})
}

// bigDataFile writes a data file with the records of storetest.Populate
// and apps*revs more revisions, enough for a migrate to take many
// batches.
func bigDataFile(t *testing.T, path string, apps, revs int) {
	t.Helper()
	d, err := db.Open(path, db.Options{Create: true, SecretsKey: testSecretsKey})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	storetest.Populate(t, d)
	for a := range apps {
		app := fmt.Sprintf("many%d.example.com", a)
		if _, err := d.CreateApp(app); err != nil {
			t.Fatal(err)
		}
		var recs []cluster.Record
		for r := range revs {
			rev := cluster.Revision{App: app, Number: r + 1, Image: "img:" + strconv.Itoa(r), Count: 2, Port: 3000, Envs: []string{"PAD=" + strings.Repeat("x", 512)}, Status: cluster.StatusFailed}
			b, _ := json.Marshal(rev)
			recs = append(recs, cluster.Record{Kind: cluster.RecordRevision, Scope: app, Key: strconv.Itoa(r + 1), Value: b})
		}
		if err := d.PutRecords(recs); err != nil {
			t.Fatal(err)
		}
	}
}

// serveRefusal runs the controller binary on dsn (with env added) and
// returns what it printed; it fails the test unless serve stopped at once
// with an error.
func serveRefusal(t *testing.T, dsn string, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(t), "serve")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LONGSHOREMAN_DB=" + dsn, "LONGSHOREMAN_TOKEN=t0ken-0123456789",
		"LONGSHOREMAN_LISTEN=127.0.0.1:0", "LONGSHOREMAN_ADVERTISE=http://127.0.0.1:1", "REDIS_PORT=1", "LONGSHOREMAN_SECRETS_KEY=" + testSecretsKey}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err == nil || ctx.Err() != nil {
		t.Fatalf("serve on a half-written migrate target: %v (context %v); want it refused at once\n%s", err, ctx.Err(), out.String())
	}
	return out.String()
}

// TestServeRefusesAnUnfinishedMigrate kills `longshoreman migrate` (the
// binary, with SIGKILL) while it copies a data file onto an etcd prefix.
// serve refuses the half-written prefix, with or without --init, saying
// to run migrate --force; migrate without --force refuses it too; migrate
// --force completes it, and serve then runs the cluster it holds.
func TestServeRefusesAnUnfinishedMigrate(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src.db")
	bigDataFile(t, src, 40, 100)
	want := fileRecords(t, src)
	wantRevs, wantApps := 0, 0
	for _, r := range want {
		switch r.Kind {
		case cluster.RecordRevision:
			wantRevs++
		case cluster.RecordApp:
			wantApps++
		}
	}

	var url string
	for attempt := 1; ; attempt++ {
		url = etcdTestURL(t)
		if killMigrateMidway(t, src, url, wantRevs) {
			break
		}
		if attempt == 5 {
			t.Fatal("five migrates finished before they could be stopped midway")
		}
		t.Logf("attempt %d: the migrate finished before it was stopped; again on a new prefix", attempt)
	}

	for _, init := range []string{"", "1"} {
		out := serveRefusal(t, url, "LONGSHOREMAN_INIT="+init)
		if !strings.Contains(out, "unfinished copy") || !strings.Contains(out, "migrate --force") || !strings.Contains(out, "from "+src+" at ") {
			t.Errorf("serve (LONGSHOREMAN_INIT=%q) on the half-written prefix said:\n%s\nwant it refused naming migrate --force and the migrate", init, out)
		}
	}
	out, err := runMigrate(t, src, url)
	if cluster.ErrorCode(err) != cluster.ECONFLICT || !strings.Contains(command.ErrorText(err), "did not finish") || !strings.Contains(command.ErrorText(err), "--force") {
		t.Fatalf("migrate again without --force: %v\n%s; want it refused saying to add --force", err, out)
	}

	if out, err := runMigrate(t, "--force", src, url); err != nil {
		t.Fatalf("migrate --force: %v\n%s", err, out)
	}
	s, err := command.OpenStore(url, false, testGetenv)
	if err != nil {
		t.Fatalf("the completed prefix: %v", err)
	}
	if diff := diffButEpoch(want, storetest.SortedRecords(t, s)); diff != "" {
		t.Errorf("after migrate --force the prefix differs from the file:\n%s", diff)
	}
	s.Close()
	c := StartController(t, url, "LONGSHOREMAN_INIT=")
	apps, _ := c.MustCall(t, "GET", "/apps", "")["apps"].([]any)
	if len(apps) != wantApps {
		t.Errorf("the controller on the completed prefix lists %d apps; want %d", len(apps), wantApps)
	}
}

// killMigrateMidway starts the migrate binary from src to url, stops it
// (SIGSTOP) as soon as revisions arrive on the target, and kills it
// (SIGKILL). It reports false when all wantRevs revisions were copied
// first.
func killMigrateMidway(t *testing.T, src, url string, wantRevs int) bool {
	t.Helper()
	cfg, err := etcd.ParseURL(url, testGetenv)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: cfg.Endpoints, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	marker := cfg.Prefix + "/" + cluster.RecordMeta + "/" + cluster.MetaMigrating
	count := func(key string, opts ...clientv3.OpOption) int64 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := cli.Get(ctx, key, append(opts, clientv3.WithCountOnly())...)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Count
	}
	revisions := func() int { return int(count(cfg.Prefix+"/"+cluster.RecordRevision+"/", clientv3.WithPrefix())) }
	// Copying: revisions arrive (they come after the apps and hosts).
	copying := func() bool { return revisions() > 0 }

	cmd := exec.Command(Binary(t), "migrate", src, url)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(time.Minute)
	for !copying() {
		select {
		case err := <-exited:
			t.Logf("migrate exited (%v) before it was seen copying:\n%s", err, out.String())
			return false
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the migrate was not seen copying within a minute\n%s", out.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGSTOP)
	copied := revisions() // frozen now
	_ = cmd.Process.Kill()
	<-exited
	if copied >= wantRevs {
		return false
	}
	t.Logf("migrate killed with %d of %d revisions copied (marker there: %t)", copied, wantRevs, count(marker) > 0)
	return true
}
