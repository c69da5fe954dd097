package http

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
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
func (s *Server) run(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	var req RunRequest
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	if len(req.Command) == 0 {
		return cluster.Errorf(cluster.EINVALID, "Field \"command\" is required: send the task's command as a list of arguments, such as {\"command\": [\"migrate\", \"--all\"]}.")
	}
	if err := validateCommand("command", req.Command); err != nil {
		return err
	}
	timeout := cluster.DefaultTaskTimeout
	if req.Timeout != nil {
		timeout = req.Timeout.D()
		if timeout <= 0 || timeout > cluster.MaxTaskTimeout {
			return cluster.Errorf(cluster.EINVALID, "Field \"timeout\" is %s: give a duration above 0 and at most %s, such as \"10m\".", timeout, cluster.MaxTaskTimeout)
		}
	}
	if !app.Deployed() {
		return cluster.Errorf(cluster.EINVALID, "App %s has never been deployed, so it has no image to run a task of", app.Name).WithFix("deploy an image first with", cluster.OpDeploy, cluster.ArgApp, app.Name)
	}
	// A task lasts as long as it runs; the server's write timeout must not
	// cut its answer.
	w = newStreamWriter(w)
	if !strings.Contains(r.Header.Get("Accept"), "application/x-ndjson") {
		var tail cluster.TaskTail
		res, err := s.Scheduler.RunTask(r.Context(), app.Name, req.Command, timeout, tail.Add)
		if err != nil {
			return err
		}
		answer := RunResponse{ExitCode: res.ExitCode, TimedOut: res.TimedOut, Output: tail.Lines()}
		if res.TimedOut {
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

	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	var mu sync.Mutex // lines come from the task's stream goroutine
	enc := json.NewEncoder(w)
	line := func(v any) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(v)
		_ = rc.Flush()
	}
	res, err := s.Scheduler.RunTask(r.Context(), app.Name, req.Command, timeout, func(l cluster.TaskLine) { line(l) })
	switch {
	case err == nil && res.TimedOut:
		err = timedOut(app.Name, timeout)
	case err == nil:
		line(struct {
			Error bool `json:"error"`
			RunResponse
		}{false, RunResponse{ExitCode: res.ExitCode}})
		return nil
	}
	if cluster.ErrorCode(err) == cluster.EINTERNAL {
		s.Logger.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	answer := errorResponse(err)
	answer.Status = ErrorStatusCode(answer.Code)
	line(struct {
		ErrorResponse
		RunResponse
	}{answer, RunResponse{ExitCode: res.ExitCode, TimedOut: res.TimedOut}})
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
