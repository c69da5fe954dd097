package http

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// The API's contract: the body of every request and answer, declared once
// here and used by the handlers and by the command-line client alike.
// Every answer is a JSON object whose "error" field is false on success and
// the whole sentence of what went wrong otherwise (ErrorResponse); the
// fields below come beside it.

// CreateAppRequest is the body of POST /apps.
type CreateAppRequest struct {
	App string `json:"app"`
}

// AddHostRequest is the body of POST /hosts.
type AddHostRequest struct {
	Host string `json:"host"`
}

// DeployRequest is the body of POST /apps/:app/deploy. Count and Port
// left out keep the app's (or the defaults).
type DeployRequest struct {
	Image       string               `json:"image"`
	Count       *Int                 `json:"count,omitempty"`
	Port        *Int                 `json:"port,omitempty"`
	HealthCheck *cluster.HealthCheck `json:"healthcheck,omitempty"`
	Memory      *MemoryLimit         `json:"memory,omitempty"` // see MemoryLimit
	CPUs        *CPULimit            `json:"cpus,omitempty"`   // see CPULimit
	// Command replaces the image's CMD for the instances, Release is run
	// once per deploy before any instance starts (see cluster.Revision).
	// Left out, each keeps the app's; an empty list clears it.
	// Sent as null when nil, so that [] can say "clear".
	Command []string `json:"command"`
	Release []string `json:"release"`
	Batch   *Int     `json:"batch,omitempty"` // this deploy's batch size; left out: the app's
	// Wait queues the operation behind the app's running one instead of
	// answering 409, for at most WaitTimeout (default 10m; given alone,
	// it asks to wait too). See cluster.WithWait. JSON bodies only.
	Wait        bool              `json:"wait,omitempty"`
	WaitTimeout *cluster.Duration `json:"wait_timeout,omitempty"`
	// Volumes (NAME:/path) and Hosts pin the app to hosts (see
	// cluster.Revision); left out, each keeps the app's, an empty list
	// clears it. Hold is how long routers hold its requests during a
	// stop-first deploy; left out, the app's (else cluster.DefaultHold).
	Volumes []string          `json:"volumes"`
	Hosts   []string          `json:"hosts"`
	Hold    *cluster.Duration `json:"hold,omitempty"`
	// Canary (percent, 1-99) makes the deploy a canary: CanaryCount
	// instances (default 1) of the new revision beside the current ones,
	// taking that share of the app's requests until POST
	// /apps/:app/promote or /apps/:app/abort. CanaryAuto promotes it
	// after that long; CanaryMaxErrors (percentage points, default 1) is
	// the margin of its 5xx rate over the current revision's (not
	// compared yet). See cluster/canary.go.
	Canary          *Int              `json:"canary,omitempty"`
	CanaryCount     *Int              `json:"canary_count,omitempty"`
	CanaryAuto      *cluster.Duration `json:"canary_auto,omitempty"`
	CanaryMaxErrors *float64          `json:"canary_max_errors,omitempty"`
}

// AbortRequest is the body of POST /apps/:app/abort; it may be empty.
// POST /apps/:app/promote takes no body.
type AbortRequest struct {
	Reason string `json:"reason,omitempty"` // recorded as the canary revision's reason; default "canary aborted"
}

// SetEnvRequest is the body of POST /apps/:app/envs.
type SetEnvRequest struct {
	Env string `json:"env"` // KEY=value
	// Wait queues the operation behind the app's running one instead of
	// answering 409, for at most WaitTimeout (default 10m; given alone,
	// it asks to wait too). See cluster.WithWait. JSON bodies only.
	Wait        bool              `json:"wait,omitempty"`
	WaitTimeout *cluster.Duration `json:"wait_timeout,omitempty"`
}

// RollbackRequest is the body of POST /apps/:app/rollback; without a
// revision, the newest succeeded one before the current.
type RollbackRequest struct {
	Revision *Int `json:"revision,omitempty"`
	// Release runs the revision's release command before its instances
	// start; without it a rollback runs none.
	Release bool `json:"release,omitempty"`
	// Wait queues the operation behind the app's running one instead of
	// answering 409, for at most WaitTimeout (default 10m; given alone,
	// it asks to wait too). See cluster.WithWait. JSON bodies only.
	Wait        bool              `json:"wait,omitempty"`
	WaitTimeout *cluster.Duration `json:"wait_timeout,omitempty"`
}

// RunRequest is the body of POST /apps/:app/run: a one-off task of the
// app's current revision. Command replaces the image's CMD (its ENTRYPOINT
// stays); Timeout defaults to cluster.DefaultTaskTimeout, at most
// cluster.MaxTaskTimeout.
type RunRequest struct {
	Command []string          `json:"command"`
	Timeout *cluster.Duration `json:"timeout,omitempty"`
}

// RunResponse answers POST /apps/:app/run: the task's exit code, and
// without streaming its last output lines (at most cluster.TaskTailLines).
// A task that ran past its timeout is an error answer with TimedOut set.
type RunResponse struct {
	ExitCode int      `json:"exit_code"`
	TimedOut bool     `json:"timed_out,omitempty"`
	Output   []string `json:"output,omitempty"`
	// Task is the task's id and Host where it ran (as GET
	// /apps/:app/tasks lists it), once it was placed.
	Task string `json:"task,omitempty"`
	Host string `json:"host,omitempty"`
}

// TasksResponse answers GET /apps/:app/tasks: the app's recent one-off
// tasks (its release commands included), newest first.
type TasksResponse struct {
	Tasks []cluster.Task `json:"tasks"`
}

// JobRequest is the body of POST /apps/:app/jobs: a scheduled job, its
// Command run as a one-off task of the app's current revision each time
// Schedule (a 5-field cron expression in UTC, or "@every 10m") comes due.
// Timeout defaults to cluster.DefaultTaskTimeout, at most
// cluster.MaxTaskTimeout.
type JobRequest struct {
	Name     string            `json:"name"`
	Schedule string            `json:"schedule"`
	Command  []string          `json:"command"`
	Timeout  *cluster.Duration `json:"timeout,omitempty"`
}

// Job is one scheduled job as the API shows it: Next is the due time of
// its next run (past while that run is about to start), Runs its last
// runs, newest first (at most cluster.JobRunHistory).
type Job struct {
	Name     string           `json:"name"`
	Schedule string           `json:"schedule"`
	Command  []string         `json:"command"`
	Timeout  cluster.Duration `json:"timeout"`
	Created  time.Time        `json:"created"`
	Next     time.Time        `json:"next,omitzero"`
	Runs     []cluster.JobRun `json:"runs"`
}

// JobsResponse answers GET /apps/:app/jobs: the app's jobs by name.
type JobsResponse struct {
	Jobs []Job `json:"jobs"`
}

// JobResponse answers POST /apps/:app/jobs: the job added.
type JobResponse struct {
	Job Job `json:"job"`
}

// RunLine is one line of POST /apps/:app/run's application/x-ndjson
// stream: an output line (Stream "stdout" or "stderr", and Line), or the
// last line, the answer (Error false or the ErrorResponse's fields, with
// the RunResponse's).
type RunLine struct {
	Stream string `json:"stream,omitempty"`
	Line   string `json:"line"`
	RunResponse
	Error   json.RawMessage `json:"error,omitempty"`
	Status  int             `json:"status,omitempty"`
	Code    string          `json:"code,omitempty"`
	Problem string          `json:"problem,omitempty"`
	Fix     *cluster.Fix    `json:"fix,omitempty"`
}

// LineError returns the last line's error, nil when it says "error": false.
func (l *RunLine) LineError() error {
	return envelopeError(l.Status, l.Error, l.Code, l.Problem, l.Fix)
}

// ScaleRequest is the body of POST /apps/:app/scale.
type ScaleRequest struct {
	Count *Int `json:"count"`
	// Wait queues the operation behind the app's running one instead of
	// answering 409, for at most WaitTimeout (default 10m; given alone,
	// it asks to wait too). See cluster.WithWait. JSON bodies only.
	Wait        bool              `json:"wait,omitempty"`
	WaitTimeout *cluster.Duration `json:"wait_timeout,omitempty"`
}

// PutRegistryRequest is the body of POST /registries.
type PutRegistryRequest struct {
	Registry string `json:"registry"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// Int is an integer that may arrive as a JSON number or a numeric string,
// as the original CLI sends count. It is sent as a number.
type Int int

// NewInt returns a pointer to n, for the optional fields of requests.
func NewInt(n int) *Int {
	i := Int(n)
	return &i
}

// UnmarshalJSON accepts 3 and "3".
func (n *Int) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if unq, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(unq)
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("must be a whole number, got %s", clipBytes(b))
	}
	*n = Int(v)
	return nil
}

// intOr returns *n, or def when n is nil.
func (n *Int) intOr(def int) int {
	if n == nil {
		return def
	}
	return int(*n)
}

// AppsResponse answers GET /apps.
type AppsResponse struct {
	Apps []string `json:"apps"` // sorted
}

// AppResponse answers GET /apps/:app.
type AppResponse struct {
	App         string         `json:"app"`
	Description AppDescription `json:"description"`
	Settings    AppSettings    `json:"settings"`
}

// AppDescription is one app in GET /apps/:app and GET /describe.
type AppDescription struct {
	Image     string   `json:"image"`
	Revision  int      `json:"revision"` // 0: never deployed
	Count     int      `json:"count"`
	Port      int      `json:"port,omitempty"` // 0: the default
	Instances []string `json:"instances"`      // the routed ones
	Envs      []string `json:"envs"`           // KEY=value

	// Each instance's limits; 0: none.
	Memory cluster.Bytes `json:"memory,omitempty"`
	CPUs   float64       `json:"cpus,omitempty"`

	// Maintenance is set while the routers answer the app with its
	// maintenance page (see POST /apps/:app/maintenance).
	Maintenance *cluster.AppMaintenance `json:"maintenance,omitempty"`
	// Volumes (NAME:/path) and the hosts the app is pinned to.
	Volumes []string `json:"volumes,omitempty"`
	Hosts   []string `json:"hosts,omitempty"`
	// Canary is the canary under way, if any; its routed instances are
	// listed there, not in Instances.
	Canary *CanaryDescription `json:"canary,omitempty"`
}

// CanaryDescription is an app's canary in its description: the app's
// canary setting (revision, weight, count, started, auto, max_errors,
// promoting) and its routed instances.
type CanaryDescription struct {
	cluster.AppCanary
	Instances []string `json:"instances"`
}

// DescribeResponse answers GET /describe.
type DescribeResponse struct {
	Description map[string]AppDescription `json:"description"`
}

// HostsResponse answers GET /hosts.
type HostsResponse struct {
	Hosts []string `json:"hosts"`
}

// InstancesResponse answers GET /apps/:app/instances.
type InstancesResponse struct {
	Instances []string `json:"instances"` // ip:port of the routed ones
}

// EnvsResponse answers GET /apps/:app/envs.
type EnvsResponse struct {
	Envs []string `json:"envs"` // KEY=value
}

// HistoryResponse answers GET /apps/:app/history, newest first.
type HistoryResponse struct {
	History []HistoryEntry `json:"history"`
}

// HistoryEntry is one revision of an app.
type HistoryEntry struct {
	Revision  int      `json:"revision"`
	Timestamp int64    `json:"timestamp"` // Unix seconds
	App       string   `json:"app"`
	Image     string   `json:"image"`
	Count     int      `json:"count"`
	Status    string   `json:"status"`
	Reason    string   `json:"reason,omitempty"`
	Envs      []string `json:"envs"`
	Current   bool     `json:"current"`

	// The revision's limits (0: none), and its instances killed for
	// memory (each was replaced): how many, and the last one's Unix time.
	Memory   cluster.Bytes `json:"memory,omitempty"`
	CPUs     float64       `json:"cpus,omitempty"`
	OOMKills int           `json:"oom_kills,omitempty"`
	LastOOM  int64         `json:"last_oom,omitempty"`

	// Canary is the percent of the requests the revision took as a canary
	// (0: it was not one); Finished is when its outcome was recorded (Unix
	// seconds; for a canary its promote or abort), 0 while deploying.
	Canary   int   `json:"canary,omitempty"`
	Finished int64 `json:"finished,omitempty"`

	// The revision's volumes (NAME:/path) and pinned hosts.
	Volumes []string `json:"volumes,omitempty"`
	Hosts   []string `json:"hosts,omitempty"`
}

// LogsResponse answers GET /apps/:app/logs.
type LogsResponse struct {
	Logs []string `json:"logs"` // "ip:port line"
}

// RegistriesResponse answers GET /registries: the registries with stored
// credentials, never the credentials.
type RegistriesResponse struct {
	Registries []string `json:"registries"`
}

// RolloutResponse answers a deploy, rollback, scale or env change when it
// is done.
type RolloutResponse struct {
	Revision  int      `json:"revision"`
	Instances []string `json:"instances"`
}

// HealthResponse answers GET /healthz to a client with the token; others
// get only Status. Error is false, or a sentence when the data file is
// not usable.
type HealthResponse struct {
	Error  any               `json:"error"`
	Status string            `json:"status"` // "ok" or "not ok"
	DB     string            `json:"db"`
	Redis  string            `json:"redis,omitempty"` // absent without a publisher
	Hosts  map[string]string `json:"hosts"`           // host -> "ok" or what is wrong
	// role, leader_id and leader_url, present on a store shared by
	// several controllers.
	*RoleInfo
}

// ProgressLine is one line of a rollout's application/x-ndjson stream: a
// step (Error absent), or the last line, the answer (Error false and the
// RolloutResponse's fields, or the ErrorResponse's fields).
type ProgressLine struct {
	cluster.Progress
	RolloutResponse
	Error   json.RawMessage `json:"error,omitempty"`
	Status  int             `json:"status,omitempty"`
	Code    string          `json:"code,omitempty"`
	Problem string          `json:"problem,omitempty"`
	Fix     *cluster.Fix    `json:"fix,omitempty"`
}

// AuditResponse is the answer of GET /audit: the entries, newest first.
type AuditResponse struct {
	Audit []cluster.AuditEntry `json:"audit"`
}

// ErrorResponse is the answer to a failed request. Error is the whole
// sentence in the API's words, what the original CLI prints; Code is the
// kind of failure (cluster.EINVALID...). When the sentence ends with what
// to do, Problem and Fix let a client say it in its own words: Problem is
// what was wrong, Fix what to do.
type ErrorResponse struct {
	Error   string       `json:"error"`
	Code    string       `json:"code,omitempty"`
	Problem string       `json:"problem,omitempty"`
	Fix     *cluster.Fix `json:"fix,omitempty"`
	Status  int          `json:"status,omitempty"` // in the last line of a progress stream only
}

// errorResponse is err as the API says it. A refused token gets the
// sentence alone, as the original API answered it: the status says the
// rest.
func errorResponse(err error) ErrorResponse {
	code := cluster.ErrorCode(err)
	e := &cluster.Error{Code: code, Message: cluster.ErrorMessage(err)}
	if code != cluster.EINTERNAL {
		e = asError(err)
	}
	answer := ErrorResponse{Error: e.Say(OpCall), Code: code}
	if e.Fix != nil {
		answer.Problem, answer.Fix = e.Message, e.Fix
	}
	if code == cluster.EUNAUTHORIZED {
		answer.Code = ""
	}
	return answer
}

// ParseError returns the error an answer's body carries, as the typed
// *cluster.Error with its code and Fix, or nil when its "error" is false.
// An answer from a controller that sends no code gets the code of its
// status. It returns a plain error when body is not an answer at all.
func ParseError(status int, body []byte) error {
	var env struct {
		Error   json.RawMessage `json:"error"`
		Code    string          `json:"code"`
		Problem string          `json:"problem"`
		Fix     *cluster.Fix    `json:"fix"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("the answer is not JSON: %v", err)
	}
	return envelopeError(status, env.Error, env.Code, env.Problem, env.Fix)
}

// LineError returns the error the last line of a progress stream carries,
// or nil when it reports success.
func (p *ProgressLine) LineError() error {
	return envelopeError(p.Status, p.Error, p.Code, p.Problem, p.Fix)
}

func envelopeError(status int, raw json.RawMessage, code, problem string, fix *cluster.Fix) error {
	s := strings.TrimSpace(string(raw))
	if s == "false" || s == "" || s == "null" {
		if status >= 400 {
			return cluster.Errorf(StatusErrorCode(status), "The controller answered status %d without saying why.", status)
		}
		return nil
	}
	var sentence string
	if err := json.Unmarshal(raw, &sentence); err != nil {
		sentence = s
	}
	if code == "" {
		code = StatusErrorCode(status)
	}
	if problem == "" {
		return &cluster.Error{Code: code, Message: sentence}
	}
	return &cluster.Error{Code: code, Message: problem, Fix: fix}
}

// StatusErrorCode returns the error code of a status, for answers that do
// not carry one; the reverse of ErrorStatusCode where it is one to one.
func StatusErrorCode(status int) string {
	for _, code := range []string{cluster.EINVALID, cluster.EUNAUTHORIZED, cluster.ENOTFOUND, cluster.EMETHOD,
		cluster.ECONFLICT, cluster.ETOOLARGE, cluster.EHOST, cluster.EUNAVAILABLE} {
		if codeStatus[code] == status {
			return code
		}
	}
	return cluster.EINTERNAL
}

// opRoutes is the call of each operation a Fix may name: its method, its
// path with :params taken from the Fix's args, and its body's fields.
var opRoutes = map[string]struct {
	method, path string
	body         []string
}{
	cluster.OpApps:           {"GET", "/apps", nil},
	cluster.OpAddApp:         {"POST", "/apps", []string{cluster.ArgApp}},
	cluster.OpRemoveApp:      {"DELETE", "/apps/:app", nil},
	cluster.OpHosts:          {"GET", "/hosts", nil},
	cluster.OpAddHost:        {"POST", "/hosts", []string{cluster.ArgHost}},
	cluster.OpRemoveHost:     {"DELETE", "/hosts/:host", nil},
	cluster.OpDeploy:         {"POST", "/:app/deploy", []string{cluster.ArgImage}},
	cluster.OpInstances:      {"GET", "/:app/instances", nil},
	cluster.OpEnvs:           {"GET", "/:app/envs", nil},
	cluster.OpSetEnv:         {"POST", "/:app/envs", []string{cluster.ArgEnv}},
	cluster.OpUnsetEnv:       {"DELETE", "/:app/envs/:key", nil},
	cluster.OpHistory:        {"GET", "/:app/history", nil},
	cluster.OpLogs:           {"GET", "/:app/logs", nil},
	cluster.OpKill:           {"POST", "/:app/kill", nil},
	cluster.OpRollback:       {"POST", "/:app/rollback", []string{cluster.ArgRevision}},
	cluster.OpScale:          {"POST", "/:app/scale", []string{cluster.ArgCount}},
	cluster.OpPromote:        {"POST", "/:app/promote", nil},
	cluster.OpAbort:          {"POST", "/:app/abort", nil},
	cluster.OpDescribe:       {"GET", "/describe", nil},
	cluster.OpStatus:         {"GET", "/healthz", nil},
	cluster.OpRegistries:     {"GET", "/registries", nil},
	cluster.OpAddRegistry:    {"POST", "/registries", []string{cluster.ArgRegistry, cluster.ArgUsername, "password"}},
	cluster.OpRemoveRegistry: {"DELETE", "/registries/:registry", nil},
	cluster.OpBackup:         {"GET", "/backup", nil},
	cluster.OpTasks:          {"GET", "/:app/tasks", nil},
	cluster.OpJobs:           {"GET", "/:app/jobs", nil},
	cluster.OpAddJob:         {"POST", "/:app/jobs", []string{"name", "schedule", "command"}},
	cluster.OpRemoveJob:      {"DELETE", "/:app/jobs/:job", nil},
}

// OpCall says an operation as an API call: "POST /hosts {"host": "IP"}",
// "GET /shop.example.com/history". Arguments the Fix does not know are
// written in capitals (APP, IP, N).
func OpCall(op string, args map[string]string) string {
	r, ok := opRoutes[op]
	if !ok {
		return op
	}
	segs := strings.Split(r.path, "/")
	for i, seg := range segs {
		if name, param := strings.CutPrefix(seg, ":"); param {
			segs[i] = url.PathEscape(argOr(args, name))
		}
	}
	call := r.method + " " + strings.Join(segs, "/")
	if args[cluster.ArgForce] == "true" {
		call += "?force=true"
	}
	if len(r.body) == 0 {
		return call
	}
	fields := make([]string, 0, len(r.body))
	for _, name := range r.body {
		v, known := args[name]
		switch {
		case !known && (name == cluster.ArgRevision || name == cluster.ArgCount):
			fields = append(fields, fmt.Sprintf("%q: N", name))
		case !known:
			fields = append(fields, fmt.Sprintf("%q: %q", name, placeholder(name)))
		case name == cluster.ArgRevision || name == cluster.ArgCount:
			fields = append(fields, fmt.Sprintf("%q: %s", name, v))
		default:
			fields = append(fields, fmt.Sprintf("%q: %q", name, v))
		}
	}
	return call + " {" + strings.Join(fields, ", ") + "}"
}

func argOr(args map[string]string, name string) string {
	if v, ok := args[name]; ok {
		return v
	}
	return placeholder(name)
}

// placeholder is how an unknown argument is written.
func placeholder(name string) string {
	switch name {
	case cluster.ArgHost:
		return "IP"
	case cluster.ArgEnv:
		return "KEY=value"
	case cluster.ArgRevision, cluster.ArgCount:
		return "N"
	}
	return strings.ToUpper(name)
}

// RotateSecretsResponse answers POST /secrets/rotate: the id of the key
// every env value is now sealed with, and how many records (apps and
// revisions) were sealed anew.
type RotateSecretsResponse struct {
	KeyID  string `json:"key_id"`
	Sealed int    `json:"sealed"`
}

// HTTPSRequest is the body of POST /apps/:app/https. Redirect left out is
// true when enabling: plain HTTP then answers 308 to https.
type HTTPSRequest struct {
	Enabled  *bool `json:"enabled"`
	Redirect *bool `json:"redirect,omitempty"`
}

// HTTPSResponse answers POST /apps/:app/https with the app's setting.
type HTTPSResponse struct {
	App   string           `json:"app"`
	HTTPS cluster.AppHTTPS `json:"https"`
}

// MaintenanceRequest is the body of POST /apps/:app/maintenance. Message
// is the page's text while enabled; left out or empty, the default
// (cluster.DefaultMaintenanceMessage).
type MaintenanceRequest struct {
	Enabled *bool  `json:"enabled"`
	Message string `json:"message,omitempty"`
}

// MaintenanceResponse answers POST /apps/:app/maintenance with the app's
// setting.
type MaintenanceResponse struct {
	App         string                 `json:"app"`
	Maintenance cluster.AppMaintenance `json:"maintenance"`
}

// AddCertRequest is the body of POST /certs: a PEM chain (the domain's
// certificate first) and its PEM private key.
type AddCertRequest struct {
	Domain string `json:"domain"`
	Cert   string `json:"cert"`
	Key    string `json:"key"`
}

// CertStatus is one domain's certificate as GET /certs shows it: never
// its key or chain.
type CertStatus struct {
	Domain      string    `json:"domain"`
	Source      string    `json:"source"` // acme or manual
	Status      string    `json:"status"` // valid, pending (none yet), expired
	Issuer      string    `json:"issuer,omitempty"`
	NotAfter    time.Time `json:"not_after,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
}

// CertsResponse answers GET /certs, sorted by domain.
type CertsResponse struct {
	Certs []CertStatus `json:"certs"`
}

// OverviewResponse is GET /overview: the whole cluster as the dashboard
// shows it, in one answer.
type OverviewResponse struct {
	Hosts []HostOverview `json:"hosts"` // sorted by address
	Apps  []AppOverview  `json:"apps"`  // sorted by name
}

// HostOverview is one host's state and load.
type HostOverview struct {
	Addr      string        `json:"addr"`
	Added     time.Time     `json:"added"`
	Draining  bool          `json:"draining"`
	Status    string        `json:"status"` // "ok", or what is wrong (down since when)
	Instances int           `json:"instances"`
	Memory    cluster.Bytes `json:"memory"` // reserved by its instances' limits
	// MemoryTotal is the host's memory as Docker reports it, read at most
	// once a minute; 0 while the host has not answered.
	MemoryTotal cluster.Bytes `json:"memory_total"`
	// ImagesDisk is the disk its images take (layers counted once), read
	// at most once a minute and after image pruning; 0 while the host has
	// not answered.
	ImagesDisk cluster.Bytes `json:"images_disk"`
}

// AppOverview is one app: what it runs, how healthy, and its last deploy.
type AppOverview struct {
	App         string              `json:"app"`
	Image       string              `json:"image"`
	Revision    int                 `json:"revision"`
	Count       int                 `json:"count"`   // desired
	Healthy     int                 `json:"healthy"` // routed instances
	Port        int                 `json:"port,omitempty"`
	HealthCheck cluster.HealthCheck `json:"healthcheck"`
	State       string              `json:"state"` // "new", "running", "degraded", "stopped", "deploying", "deleting"
	Last        *HistoryEntry       `json:"last,omitempty"`
	Instances   []InstanceOverview  `json:"instances"`
	// Maintenance is set while the routers answer the app with its
	// maintenance page.
	// Volumes (NAME:/path) and the hosts the app is pinned to.
	Volumes     []string                `json:"volumes,omitempty"`
	Hosts       []string                `json:"hosts,omitempty"`
	Maintenance *cluster.AppMaintenance `json:"maintenance,omitempty"`
}

// InstanceOverview is one instance of an app.
type InstanceOverview struct {
	ID       string    `json:"id"`
	Addr     string    `json:"addr"` // host:port
	Host     string    `json:"host"`
	Revision int       `json:"revision"`
	Health   string    `json:"health"` // "healthy" (routed), "unhealthy", "retiring"
	Started  time.Time `json:"started"`
}

// TokenRequest is the body of POST /tokens: a token named Name of Scope
// ("read", "deploy" or "admin"), limited to Apps when given, expiring
// after Expires ("90d", "36h"; empty: never).
type TokenRequest struct {
	Name    string   `json:"name"`
	Scope   string   `json:"scope"`
	Apps    []string `json:"apps"`
	Expires string   `json:"expires"`
}

// TokenInfo is a stored token as the API shows it: never its secret, nor
// the secret's hash.
type TokenInfo struct {
	Name     string    `json:"name"`
	Scope    string    `json:"scope"`
	Apps     []string  `json:"apps"` // empty: every app
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires,omitzero"` // zero: never
	LastUsed time.Time `json:"last_used,omitzero"`
}

// TokenCreated answers POST /tokens: the secret, shown this once, and the
// token.
type TokenCreated struct {
	Token string `json:"token"`
	TokenInfo
}

// TokensResponse answers GET /tokens, sorted by name.
type TokensResponse struct {
	Tokens []TokenInfo `json:"tokens"`
}

// WhoAmIResponse answers GET /whoami: the token the request carried.
// Apps empty: every app; Expires zero: never.
type WhoAmIResponse struct {
	Name    string    `json:"name"`
	Scope   string    `json:"scope"` // "read", "deploy", "admin", or "" for the router token
	Apps    []string  `json:"apps"`
	Expires time.Time `json:"expires,omitzero"`
}

// TrafficResponse is GET /apps/:app/traffic's answer: the app's figures
// over the span asked for (see cluster.TrafficFigures).
type TrafficResponse struct {
	App string `json:"app"`
	cluster.TrafficFigures
}
