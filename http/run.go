package http

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

// Bounds of a command (a task's, a release's, the instances' CMD).
const (
	MaxCommandArgs  = 1000
	MaxCommandBytes = 64 << 10
)

// run runs a one-off task of the app's current revision. A client that
// accepts application/x-ndjson gets each output line as it comes, then the
// answer as the last line (its status is then 200 whatever the outcome,
// since the header went out first); any other gets one JSON answer with the
// last output lines.
//
// The task runs to its end whatever becomes of the request: the client
// going away does not stop it (its end is recorded as always, see GET
// /apps/:app/tasks). The wait for it ends early only when this controller
// shuts down or loses the leadership; the answer then says that the task
// runs on and where to look it up.
func (s *Server) run(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	req, timeout, err := decodeRun(r)
	if err != nil {
		return err
	}
	note(w, "command", strings.Join(req.Command, " "))
	if !app.Deployed() {
		return cluster.Errorf(cluster.EINVALID, "App %s has never been deployed, so it has no image to run a task of", app.Name).WithFix("deploy an image first with", cluster.OpDeploy, cluster.ArgApp, app.Name)
	}
	ctx, stop := s.taskContext(r)
	defer stop()
	// A task lasts as long as it runs; the server's write timeout must not
	// cut its answer.
	w = newStreamWriter(w)
	if !strings.Contains(r.Header.Get("Accept"), "application/x-ndjson") {
		var tail cluster.TaskTail
		res, err := s.Scheduler.RunTask(ctx, app.Name, req.Command, timeout, tail.Add)
		if err != nil {
			return err
		}
		answer := RunResponse{ExitCode: res.ExitCode, TimedOut: res.TimedOut, Output: tail.Lines(), Task: res.Task, Host: res.Host}
		noteTask(w, res)
		if res.TimedOut {
			failed(w, timedOut(app.Name, timeout))
			e := errorResponse(timedOut(app.Name, timeout))
			writeJSON(w, ErrorStatusCode(e.Code), struct {
				ErrorResponse
				RunResponse
			}{e, answer})
			return nil
		}
		ok(w, answer)
		return nil
	}

	s.runStreamed(ctx, w, r, app, req.Command, timeout)
	return nil
}

// runStreamed runs a task whose client asked for ndjson: each line of its
// output as it comes, then its outcome (or error) as the last line.
func (s *Server) runStreamed(ctx context.Context, w http.ResponseWriter, r *http.Request, app *cluster.App, command []string, timeout time.Duration) {
	line := streamLines(w) // lines come from the task's stream goroutine
	res, err := s.Scheduler.RunTask(ctx, app.Name, command, timeout, func(l cluster.TaskLine) { line(l) })
	answer := RunResponse{ExitCode: res.ExitCode, TimedOut: res.TimedOut, Task: res.Task, Host: res.Host}
	if err == nil {
		noteTask(w, res)
	}
	switch {
	case err == nil && res.TimedOut:
		err = timedOut(app.Name, timeout)
	case err == nil:
		line(struct {
			Error bool `json:"error"`
			RunResponse
		}{false, answer})
		return
	}
	if cluster.ErrorCode(err) == cluster.EINTERNAL {
		s.Logger.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	e := errorResponse(err)
	e.Status = ErrorStatusCode(e.Code)
	line(struct {
		ErrorResponse
		RunResponse
	}{e, answer})
	failed(w, err)
}

// noteTask adds a task's id and exit code to its request's audit entry.
func noteTask(w http.ResponseWriter, res cluster.TaskResult) {
	if res.Task != "" {
		note(w, "task", res.Task)
	}
	note(w, "exit_code", strconv.Itoa(res.ExitCode))
}

// decodeRun reads a task's request: its command and timeout, checked.
func decodeRun(r *http.Request) (req RunRequest, timeout time.Duration, err error) {
	if err := decodeRequest(r, &req); err != nil {
		return req, 0, err
	}
	if len(req.Command) == 0 {
		return req, 0, cluster.Errorf(cluster.EINVALID, "Field \"command\" is required: send the task's command as a list of arguments, such as {\"command\": [\"migrate\", \"--all\"]}.")
	}
	if err := validateCommand("command", req.Command); err != nil {
		return req, 0, err
	}
	timeout = cluster.DefaultTaskTimeout
	if req.Timeout != nil {
		timeout = req.Timeout.D()
		if timeout <= 0 || timeout > cluster.MaxTaskTimeout {
			return req, 0, cluster.Errorf(cluster.EINVALID, "Field \"timeout\" is %s: give a duration above 0 and at most %s, such as \"10m\".", timeout, cluster.MaxTaskTimeout)
		}
	}
	return req, timeout, nil
}

// taskContext returns the context a task's wait runs under: detached from
// the client, ended when the server shuts down (EndStreams) or, on a store
// shared by several controllers, when this one's leadership ends.
func (s *Server) taskContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	stops := []func() bool{context.AfterFunc(s.follows.context(), cancel)}
	if s.Leadership != nil {
		stops = append(stops, context.AfterFunc(s.Leadership.Context(), cancel))
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// listTasks answers GET /apps/:app/tasks: the app's recent one-off tasks,
// newest first, as the store keeps them (the newest cluster.TaskHistory).
func (s *Server) listTasks(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	tasks, err := s.Store.Tasks(app.Name)
	if err != nil {
		return err
	}
	ok(w, TasksResponse{Tasks: tasks})
	return nil
}

// timedOut is the error of a task killed at its timeout.
func timedOut(app string, timeout time.Duration) error {
	return cluster.Errorf(cluster.EDEPLOY, "The task of %s ran longer than its timeout (%s) and was killed: give it a longer \"timeout\" if it needs more time.", app, timeout)
}

// validateCommand checks a command given as a list of arguments: at most
// MaxCommandArgs arguments and MaxCommandBytes in all, none holding a NUL
// byte, the first not empty.
func validateCommand(field string, cmd []string) error {
	if len(cmd) > MaxCommandArgs {
		return cluster.Errorf(cluster.EINVALID, "Field %q has %d arguments: at most %d are accepted.", field, len(cmd), MaxCommandArgs)
	}
	total := 0
	for i, a := range cmd {
		total += len(a)
		if strings.IndexByte(a, 0) >= 0 {
			return cluster.Errorf(cluster.EINVALID, "Argument %d of field %q holds a NUL byte, which a command line cannot carry: remove it.", i+1, field)
		}
	}
	if total > MaxCommandBytes {
		return cluster.Errorf(cluster.EINVALID, "Field %q is %d bytes long: at most %d are accepted.", field, total, MaxCommandBytes)
	}
	if len(cmd) > 0 && cmd[0] == "" {
		return cluster.Errorf(cluster.EINVALID, "Field %q starts with an empty argument: give the command without it.", field)
	}
	return nil
}
