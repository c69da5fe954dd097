package cluster

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error codes. The HTTP layer maps each to one status in one place.
const (
	ECONFLICT     = "conflict"     // 409: the request collides with work under way or with state
	EINTERNAL     = "internal"     // 500: a bug
	EINVALID      = "invalid"      // 400: bad input
	ENOTFOUND     = "not_found"    // 404: unknown app, host or revision
	EUNAUTHORIZED = "unauthorized" // 401: missing or wrong token
	EHOST         = "host"         // 502: a Docker host failed
	EUNAVAILABLE  = "unavailable"  // 503: no host can take the work
	EMETHOD       = "method"       // 405: the path exists, the method does not
	ETOOLARGE     = "too_large"    // 413: the request body is over the limit
	EDEPLOY       = "deploy"       // 502: new instances failed to start or to become healthy
	EFORBIDDEN    = "forbidden"    // 403: a valid token whose role may not do this
)

// Error is an error a person can act on: Code says what kind of failure it is
// (for the status code), Message says what was wrong, and what to do unless
// Fix says it.
type Error struct {
	Code    string
	Message string
	// Fix, when set, is what to do, named as an operation of the cluster
	// rather than as a call: each side says it in its own words (the API
	// "POST /hosts", the CLI "longshoreman hosts:add IP").
	Fix *Fix
}

// Fix is the way out of an error: Text leads to the operation ("add one
// with"), Op is the operation, Args the values the error knows (an app,
// a host); the rest are shown as placeholders.
type Fix struct {
	Text string            `json:"text"`
	Op   string            `json:"op"`
	Args map[string]string `json:"args,omitempty"`
}

// Operations a Fix may name. The names are the CLI's command names; the
// API maps each to its method and path (http.OpCall), the CLI to its
// command line. Arguments are named by the Arg constants.
const (
	OpApps           = "apps"
	OpAddApp         = "apps:add"
	OpRemoveApp      = "apps:rm"
	OpHosts          = "hosts"
	OpAddHost        = "hosts:add"
	OpRemoveHost     = "hosts:rm"
	OpDeploy         = "deploy"
	OpInstances      = "instances"
	OpEnvs           = "envs"
	OpSetEnv         = "envs:set"
	OpUnsetEnv       = "envs:rm"
	OpHistory        = "history"
	OpLogs           = "logs"
	OpKill           = "kill"
	OpRollback       = "rollback"
	OpScale          = "scale"
	OpDescribe       = "describe"
	OpStatus         = "status"
	OpRegistries     = "registries"
	OpAddRegistry    = "registries:add"
	OpRemoveRegistry = "registries:rm"
	OpBackup         = "backup"
	OpTasks          = "tasks"
)

// Ops is every operation a Fix may name, for the tests that check that
// both sides can say each one.
var Ops = []string{
	OpApps, OpAddApp, OpRemoveApp, OpHosts, OpAddHost, OpRemoveHost, OpDeploy, OpInstances,
	OpEnvs, OpSetEnv, OpUnsetEnv, OpHistory, OpLogs, OpKill, OpRollback, OpScale, OpDescribe,
	OpStatus, OpRegistries, OpAddRegistry, OpRemoveRegistry, OpBackup, OpTasks,
}

// Arguments of operations, as Fix.Args keys.
const (
	ArgApp      = "app"
	ArgHost     = "host"
	ArgImage    = "image"
	ArgEnv      = "env" // KEY=value
	ArgKey      = "key"
	ArgRevision = "revision"
	ArgCount    = "count"
	ArgRegistry = "registry"
	ArgUsername = "username"
	ArgForce    = "force" // "true" to name the forcing variant
	ArgFile     = "file"
)

// WithFix returns e with its Fix set: text leads to op, args are
// name/value pairs (ArgApp, "shop.example.com", ...).
func (e *Error) WithFix(text, op string, args ...string) *Error {
	f := &Fix{Text: text, Op: op}
	for i := 0; i+1 < len(args); i += 2 {
		if f.Args == nil {
			f.Args = map[string]string{}
		}
		f.Args[args[i]] = args[i+1]
	}
	e.Fix = f
	return e
}

// Say returns the whole sentence: Message, then the Fix with its
// operation in the words say gives it. Without a Fix it is Message.
func (e *Error) Say(say func(op string, args map[string]string) string) string {
	if e.Fix == nil {
		return e.Message
	}
	return strings.TrimRight(e.Message, ".") + ": " + e.Fix.Text + " " + say(e.Fix.Op, e.Fix.Args) + "."
}

// neutral names an operation and its arguments without the words of
// either side, for logs and stored reasons.
func neutral(op string, args map[string]string) string {
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := "the " + op + " operation"
	for i, k := range keys {
		sep := ", "
		if i == 0 {
			sep = " ("
		}
		s += sep + k + " " + args[k]
	}
	if len(keys) > 0 {
		s += ")"
	}
	return s
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("longshoreman error: code=%s message=%s", e.Code, e.Say(neutral))
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, with
// its Fix named without the words of the API or the CLI (the API and the CLI
// say it with Error.Say), and "Internal error." for any other error, whose
// detail must not reach users.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Say(neutral)
	}
	return "Internal error."
}
