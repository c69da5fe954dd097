package storetest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
)

// SortedRecords returns every record of s sorted by kind, scope and key.
func SortedRecords(tb testing.TB, s cluster.RecordStore) []cluster.Record {
	tb.Helper()
	var recs []cluster.Record
	must(tb, s.Records(func(r cluster.Record) error { recs = append(recs, r); return nil }))
	sort.Slice(recs, func(i, j int) bool {
		a, b := recs[i], recs[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Scope != b.Scope {
			return a.Scope < b.Scope
		}
		if a.Kind == cluster.RecordRevision {
			x, _ := strconv.Atoi(a.Key)
			y, _ := strconv.Atoi(b.Key)
			return x < y
		}
		return a.Key < b.Key
	})
	return recs
}

// DiffRecords describes how two sorted record lists differ, "" when equal.
func DiffRecords(a, b []cluster.Record) string {
	key := func(r cluster.Record) string { return r.Kind + "/" + r.Scope + "/" + r.Key }
	am, bm := map[string][]byte{}, map[string][]byte{}
	for _, r := range a {
		am[key(r)] = r.Value
	}
	for _, r := range b {
		bm[key(r)] = r.Value
	}
	var diffs []string
	for k, v := range am {
		if w, ok := bm[k]; !ok {
			diffs = append(diffs, "only in the first: "+k)
		} else if !bytes.Equal(v, w) {
			diffs = append(diffs, fmt.Sprintf("%s: %q != %q", k, v, w))
		}
	}
	for k := range bm {
		if _, ok := am[k]; !ok {
			diffs = append(diffs, "only in the second: "+k)
		}
	}
	sort.Strings(diffs)
	return strings.Join(diffs, "\n")
}

// Populate fills s with an app of each state, hosts, registries, revisions
// and instances, tasks, jobs, an API token, audit entries, and the token
// and routes key, for copy tests.
func Populate(tb testing.TB, s cluster.Store) {
	tb.Helper()
	_, _, err := s.EnsureToken()
	must(tb, err)
	_, _, err = s.EnsureRoutesKey()
	must(tb, err)
	for i := range 3 {
		host := fmt.Sprintf("10.0.0.%d", i+1)
		_, err := s.AddHost(host)
		must(tb, err)
	}
	must(tb, s.SetDraining("10.0.0.3", true))
	must(tb, s.PutRegistry(cluster.Registry{Address: "registry.example.com", Username: "u", Password: "p"}))
	for a := range 5 {
		app := fmt.Sprintf("app%d.example.com", a)
		_, err := s.CreateApp(app)
		must(tb, err)
		_, err = s.UpdateApp(app, func(x *cluster.App) error { x.Envs["N"] = strconv.Itoa(a); return nil })
		must(tb, err)
		for r := range a {
			rev := &cluster.Revision{App: app, Image: fmt.Sprintf("img:%d", r), Count: 2, Port: 3000, Envs: []string{"N=" + strconv.Itoa(a)}, Status: cluster.StatusDeploying}
			must(tb, s.CreateRevision(rev))
			status := cluster.StatusSucceeded
			if r == 1 {
				status = cluster.StatusFailed
			}
			if r < a-1 || a%2 == 0 {
				_, err := s.FinishRevision(app, rev.Number, status, "")
				must(tb, err)
			}
			for k := range 2 {
				must(tb, s.PutInstance(cluster.Instance{ID: fmt.Sprintf("%s-%d-%d", app, r, k), App: app, Revision: rev.Number, Host: fmt.Sprintf("10.0.0.%d", k+1), Port: 30000 + 10*r + k, Routed: k == 0, Started: time.Unix(1700000000, 0).UTC()}))
			}
		}
	}
	populateCerts(tb, s)
	for n := range 3 {
		tk := task("app4.example.com", n)
		if n > 0 {
			tk.End(cluster.TaskResult{ExitCode: n - 1}, []string{"migrated", "done"}, tk.Started.Add(time.Minute))
		}
		must(tb, s.PutTask(tk))
	}
	for _, name := range []string{"cleanup", "report"} {
		must(tb, s.CreateJob(job("app4.example.com", name)))
	}
	_, err = s.UpdateJob("app4.example.com", "report", func(j *cluster.Job) error {
		j.LastDue = j.Created.Add(5 * time.Second)
		j.AddRun(cluster.JobRun{Due: j.LastDue, Start: j.LastDue, Outcome: cluster.JobRunning, Task: "t02"})
		return nil
	}, nil)
	must(tb, err)
	must(tb, s.CreateToken(apiToken("ci", cluster.ScopeDeploy, "s-ci", "app4.example.com")))
	must(tb, s.TouchToken("ci", time.Unix(1700000000, 0)))
	for n := range 2 {
		must(tb, s.AppendAudit(auditAt(n), cluster.DefaultAuditKeep, cluster.DefaultAuditMaxAge))
	}
	_, err = s.RoutingTable()
	must(tb, err)
}

// testBackupIsADataFile takes backups while another goroutine writes and
// opens the last one as a data file: same ids, every app readable.
func testBackupIsADataFile(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	Populate(t, d)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			d.CreateApp(fmt.Sprintf("w%d.example.com", i))
		}
	})
	var buf bytes.Buffer
	for range 3 {
		buf.Reset()
		must(t, errOf(d.Backup(&buf, true)))
	}
	close(stop)
	wg.Wait()
	c := openBackup(t, buf.Bytes())
	apps, err := c.Apps()
	must(t, err)
	for _, a := range apps {
		must(t, errOf(c.App(a)))
	}
	if len(apps) < 5 || c.ControllerID() != d.ControllerID() || c.ClusterID() != d.ClusterID() {
		t.Fatalf("backup: %d apps, controller %s cluster %s; want >= 5, %s, %s", len(apps), c.ControllerID(), c.ClusterID(), d.ControllerID(), d.ClusterID())
	}
	if tok, _ := c.Token(); tok == "" {
		t.Fatal("backup has no token")
	}
	insts, _ := c.Instances("app4.example.com")
	want, _ := d.Instances("app4.example.com")
	if len(insts) != 8 || !slices.EqualFunc(insts, want, func(a, b cluster.Instance) bool { return a == b }) {
		t.Fatalf("backup instances %+v, want %+v", insts, want)
	}
	tasks, err := c.Tasks("app4.example.com")
	must(t, err)
	if taskIDs(tasks) != "t02,t01,t00" || tasks[0].ExitCode == nil || *tasks[0].ExitCode != 1 || tasks[2].State != cluster.TaskRunning {
		t.Fatalf("backup tasks %+v; want the three of app4, with their states", tasks)
	}
	jobs, err := c.Jobs("app4.example.com")
	must(t, err)
	if jobNames(jobs) != "app4.example.com/cleanup,app4.example.com/report" || len(jobs[1].Runs) != 1 || jobs[1].Runs[0].Task != "t02" || jobs[1].LastDue.IsZero() {
		t.Fatalf("backup jobs %+v; want the two of app4, with the run of report", jobs)
	}
	audit, err := c.Audit(cluster.AuditFilter{})
	must(t, err)
	if auditImages(audit) != "img:1,img:0" || audit[0].Token != "ci" {
		t.Fatalf("backup audit %+v; want the two entries", audit)
	}
}

// testRecordsRoundTrip copies every record into a new store and back.
func testRecordsRoundTrip(t *testing.T, open Opener) {
	d := MustOpen(t, open)
	Populate(t, d)
	recs := SortedRecords(t, d)
	if len(recs) < 30 {
		t.Fatalf("only %d records", len(recs))
	}
	// Overwrite every record with itself and delete one: the store holds
	// exactly what PutRecords wrote.
	for i := 0; i < len(recs); i += cluster.RecordBatch {
		must(t, d.PutRecords(recs[i:min(i+cluster.RecordBatch, len(recs))]))
	}
	if diff := DiffRecords(recs, SortedRecords(t, d)); diff != "" {
		t.Fatalf("records changed by writing them back:\n%s", diff)
	}
	gone := cluster.Record{Kind: cluster.RecordInstance, Scope: "app4.example.com", Key: "app4.example.com-0-0"}
	must(t, d.PutRecords([]cluster.Record{gone}))
	insts, _ := d.Instances("app4.example.com")
	if len(insts) != 7 || slices.ContainsFunc(insts, func(i cluster.Instance) bool { return i.ID == gone.Key }) {
		t.Fatalf("instances after deleting one by record: %+v", insts)
	}
}

// openBackup writes a backup with keys to a data file and opens it with
// SecretsKey, closed when the test ends.
func openBackup(t *testing.T, backup []byte) *db.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "copy.db")
	must(t, os.WriteFile(path, backup, 0o600))
	c, err := db.Open(path, db.Options{SecretsKey: SecretsKey})
	must(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}
