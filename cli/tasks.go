package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	api "github.com/longshoreman/longshoreman/http"
)

// runTasks prints a table of the app's recent one-off tasks, newest first,
// or with --task one of them in full, with its last output lines.
func runTasks(ctx context.Context, c *Call) error {
	var out api.TasksResponse
	if err := c.get(ctx, appPath(c.App, "tasks"), &out); err != nil {
		return err
	}
	if id := c.String("task"); id != "" {
		for _, t := range out.Tasks {
			if t.ID == id {
				return printTask(c, t)
			}
		}
		return fmt.Errorf("%s has no task %s among its %d most recent: list them with longshoreman tasks --app %s", c.App, id, cluster.TaskHistory, c.App)
	}
	if len(out.Tasks) == 0 {
		fmt.Fprintf(c.Stderr, "%s has run no task yet.\n", c.App)
		return nil
	}
	tw := newTable(c.Stdout)
	fmt.Fprintln(tw, "TASK\tSTARTED\tTOOK\tSTATE\tEXIT\tHOST\tCOMMAND")
	for _, t := range out.Tasks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Started.Local().Format("2006-01-02 15:04:05"), took(t), taskState(t), exitCode(t), orNone(t.Host), taskCommand(t))
	}
	return tw.Flush()
}

// printTask prints one task's fields, then its last output lines.
func printTask(c *Call, t cluster.Task) error {
	tw := newTable(c.Stdout)
	fmt.Fprintf(tw, "Task:\t%s\n", t.ID)
	fmt.Fprintf(tw, "Command:\t%s\n", taskCommand(t))
	fmt.Fprintf(tw, "Revision:\t%d\n", t.Revision)
	fmt.Fprintf(tw, "Host:\t%s\n", orNone(t.Host))
	fmt.Fprintf(tw, "State:\t%s\n", taskState(t))
	fmt.Fprintf(tw, "Exit code:\t%s\n", exitCode(t))
	fmt.Fprintf(tw, "Started:\t%s\n", t.Started.Local().Format("2006-01-02 15:04:05"))
	fmt.Fprintf(tw, "Deadline:\t%s\n", t.Deadline.Local().Format("2006-01-02 15:04:05"))
	if !t.Finished.IsZero() {
		fmt.Fprintf(tw, "Finished:\t%s (%s)\n", t.Finished.Local().Format("2006-01-02 15:04:05"), took(t))
	}
	if t.Error != "" {
		fmt.Fprintf(tw, "Why:\t%s\n", t.Error)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(t.Output) > 0 {
		fmt.Fprintln(c.Stdout, "Last output lines:")
		for _, l := range t.Output {
			fmt.Fprintln(c.Stdout, "  "+l)
		}
	}
	return nil
}

// taskState is a task's state, with why when it timed out or was lost.
func taskState(t cluster.Task) string {
	switch {
	case t.TimedOut:
		return t.State + " (timed out)"
	case t.State == cluster.TaskLost || (t.Error != "" && t.ExitCode == nil):
		return t.State + ": " + oneLine(t.Error)
	}
	return t.State
}

func exitCode(t cluster.Task) string {
	if t.ExitCode == nil {
		return "-"
	}
	return fmt.Sprint(*t.ExitCode)
}

// took is how long a task ran, to a tenth of a second; "-" while it runs.
func took(t cluster.Task) string {
	if t.Finished.IsZero() {
		return "-"
	}
	return fmt.Sprintf("%.1fs", t.Finished.Sub(t.Started).Round(100*time.Millisecond).Seconds())
}

// taskCommand is the task's command as one line, marked when it was a
// deploy's release command.
func taskCommand(t cluster.Task) string {
	cmd := oneLine(strings.Join(t.Command, " "))
	if t.Release {
		return "release: " + cmd
	}
	return cmd
}
