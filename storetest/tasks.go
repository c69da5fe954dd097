package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// task is a task record of app, started at the minute n of a test clock.
func task(app string, n int) cluster.Task {
	start := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Minute)
	return cluster.Task{ID: fmt.Sprintf("t%02d", n), App: app, Revision: 1, Command: []string{"migrate", "--all"}, Host: "10.0.0.1",
		State: cluster.TaskRunning, Started: start, Deadline: start.Add(10 * time.Minute)}
}

func taskIDs(tasks []cluster.Task) string {
	return joined(tasks, func(t cluster.Task) string { return t.ID })
}

// testTasks: task records are created and replaced whole, listed newest
// first, pruned to the newest TaskHistory per app in the same write,
// refused for an unknown app, listed across apps while running, and
// deleted with their app.
func testTasks(t *testing.T, open Opener) {
	const a, b = "a.example.com", "b.example.com"
	d := mustOpenWithApps(t, open, a, b)
	if err := d.PutTask(task("nope.example.com", 1)); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("PutTask of an unknown app: %v, want ENOTFOUND", err)
	}
	if _, err := d.Tasks("nope.example.com"); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("Tasks of an unknown app: %v, want ENOTFOUND", err)
	}
	if tasks, err := d.Tasks(a); err != nil || tasks == nil || len(tasks) != 0 {
		t.Fatalf("Tasks of an app without any = %v, %v; want an empty list", tasks, err)
	}
	// Out of order, one more than kept.
	for _, n := range []int{3, 1, 2} {
		must(t, d.PutTask(task(a, n)))
	}
	for n := 4; n <= cluster.TaskHistory+1; n++ {
		must(t, d.PutTask(task(a, n)))
	}
	must(t, d.PutTask(task(b, 1)))
	tasks, err := d.Tasks(a)
	must(t, err)
	var want []string
	for n := cluster.TaskHistory + 1; n >= 2; n-- {
		want = append(want, fmt.Sprintf("t%02d", n))
	}
	if got := taskIDs(tasks); got != strings.Join(want, ",") {
		t.Fatalf("tasks of %s = %s; want the newest %d, newest first: %s", a, got, cluster.TaskHistory, strings.Join(want, ","))
	}
	if _, err := d.Task(a, "t01"); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("the pruned task: %v, want ENOTFOUND", err)
	}
	// An old task put again is pruned at once; the kept ones stay.
	must(t, d.PutTask(task(a, 0)))
	if tasks, _ := d.Tasks(a); len(tasks) != cluster.TaskHistory || slices.ContainsFunc(tasks, func(t cluster.Task) bool { return t.ID == "t00" }) {
		t.Fatalf("after putting a task older than every kept one: %s", taskIDs(tasks))
	}

	// An end replaces the whole record.
	ended := task(a, 5)
	ended.End(cluster.TaskResult{ExitCode: 3}, []string{"line 1", strings.Repeat("x", 5000)}, ended.Started.Add(time.Minute))
	must(t, d.PutTask(ended))
	got, err := d.Task(a, "t05")
	must(t, err)
	if got.State != cluster.TaskFailed || got.ExitCode == nil || *got.ExitCode != 3 || !got.Finished.Equal(ended.Finished) ||
		len(got.Output) != 2 || len(got.Output[1]) != cluster.MaxTaskRecordLine || strings.Join(got.Command, " ") != "migrate --all" || !got.Deadline.Equal(ended.Deadline) {
		t.Fatalf("ended task = %+v; want failed with exit code 3, its output cut at %d bytes a line", got, cluster.MaxTaskRecordLine)
	}

	running, err := d.RunningTasks()
	must(t, err)
	if len(running) != cluster.TaskHistory || !slices.ContainsFunc(running, func(t cluster.Task) bool { return t.App == b }) ||
		slices.ContainsFunc(running, func(t cluster.Task) bool { return t.ID == "t05" && t.App == a }) {
		t.Fatalf("running tasks = %s; want every task of both apps but the ended one", taskIDs(running))
	}

	must(t, d.DeleteApp(a))
	if _, err := d.Task(a, "t06"); cluster.ErrorCode(err) != cluster.ENOTFOUND {
		t.Fatalf("a task of a deleted app: %v, want ENOTFOUND", err)
	}
	must(t, errOf(d.CreateApp(a)))
	if tasks, _ := d.Tasks(a); len(tasks) != 0 {
		t.Fatalf("tasks of an app created again after its delete: %s", taskIDs(tasks))
	}
	if running, _ := d.RunningTasks(); taskIDs(running) != "t01" || running[0].App != b {
		t.Fatalf("running tasks after the delete = %+v; want b's", running)
	}
}
