package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	api "github.com/longshoreman/longshoreman/http"
)

// TimedOutCode is the exit code of run when the task ran past its timeout,
// as timeout(1) exits.
const TimedOutCode = 124

// ExitError ends the program with Code; Message, when set, is printed
// first. run returns it to pass on the task's exit code.
type ExitError struct {
	Code    int
	Message string
}

func (e *ExitError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return fmt.Sprintf("exit code %d", e.Code)
}

// ExitCode is the code the program exits with.
func (e *ExitError) ExitCode() int { return e.Code }

// Silent reports whether there is nothing to print: the task's output said it all.
func (e *ExitError) Silent() bool { return e.Message == "" }

// runTask runs the command after -- as a one-off task, prints its output
// as it comes (stdout to stdout, stderr to stderr) and returns an
// *ExitError carrying a non-zero exit code.
func runTask(ctx context.Context, c *Call) error {
	if len(c.Rest) == 0 {
		return fmt.Errorf("run needs the command after --, e.g. longshoreman --app %s run -- migrate --all", c.App)
	}
	timeout, err := taskTimeout(c)
	if err != nil {
		return err
	}
	body := api.RunRequest{Command: c.Rest, Timeout: timeout}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	lookUp := commandLine(cluster.OpTasks, map[string]string{cluster.ArgApp: c.App})
	resp, cancel, _, err := cl.openStream(ctx, request{method: "POST", path: appPath(c.App, "run"), body: body})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted before the controller answered: if the task began, it runs on in its container to its end or its timeout; see with %s", lookUp)
		}
		return err
	}
	if resp == nil {
		return fmt.Errorf("the controller at %s answered the task without streaming it: is it an older version?", cl.URL)
	}
	defer cancel()
	defer resp.Body.Close()
	done, err := eachLine(cl, resp.Body, "a line", func(l api.RunLine, _ []byte) (bool, error) {
		switch {
		case l.Error == nil && l.Stream == "stderr":
			fmt.Fprintln(c.Stderr, l.Line)
			return false, nil
		case l.Error == nil:
			fmt.Fprintln(c.Stdout, l.Line)
			return false, nil
		}
		if err := l.LineError(); err != nil {
			if l.TimedOut {
				return true, &ExitError{Code: TimedOutCode, Message: say(err).Error()}
			}
			return true, say(err)
		}
		if l.ExitCode != 0 {
			return true, &ExitError{Code: l.ExitCode}
		}
		return true, nil
	})
	if done {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: the task runs on in its container to its end or its timeout; see how it ended with %s", lookUp)
	}
	return fmt.Errorf("the connection to %s ended before the task did (the controller stopped, or the network failed): the task runs on in its container to its end or its timeout, and the controller that leads records how it ended; see it with %s", cl.URL, lookUp)
}

// taskTimeout reads --timeout, how long a task may run: nil when not given.
func taskTimeout(c *Call) (*cluster.Duration, error) {
	s := c.String("timeout")
	if s == "" {
		return nil, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return nil, fmt.Errorf("--timeout %q is not a duration: give one such as 10m or 90s", s)
	}
	cd := cluster.Duration(d)
	return &cd, nil
}
