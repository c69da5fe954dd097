package cluster

import (
	"cmp"
	"net"
	"slices"
	"strconv"
	"time"
)

// Defaults for what an app does not set.
const (
	DefaultPort            = 3000
	DefaultCount           = 2
	DefaultHealthPath      = "/ping"
	DefaultHealthTimeout   = 60 * time.Second
	DefaultDockerPort      = 2375
	DefaultChannel         = "longshoreman.routes"
	DefaultDrain           = 2 * time.Second
	DefaultRepublish       = 10 * time.Second
	DefaultReconcile       = 5 * time.Second
	DefaultHostGrace       = 15 * time.Second
	DefaultMaxCount        = 64
	DefaultStopTimeout     = 10 * time.Second
	DefaultLogLines        = 20
	MaxEnvValueLength      = 32 << 10
	MaxEnvKeyLength        = 255
	MaxAppNameLength       = 253
	MaxHealthTimeout       = 10 * time.Minute
	MinHealthTimeout       = time.Second
	MaxImageReferenceBytes = 512
	// MaxEnvs and MaxEnvBytes bound one app's envs (count, and the sum of
	// len(KEY=value)); every revision stores a copy of them.
	MaxEnvs     = 200
	MaxEnvBytes = 64 << 10
	// DefaultHistory is how many revisions per app the data file keeps
	// (LONGSHOREMAN_HISTORY).
	DefaultHistory = 100
)

// Labels carried by every container the controller manages. The controller
// only touches containers with these labels, and on each host only counts
// those whose LabelHost is that host: several host addresses may share one
// Docker daemon.
const (
	LabelApp        = "longshoreman.app"
	LabelRevision   = "longshoreman.revision"
	LabelHost       = "longshoreman.host"
	LabelController = "longshoreman.controller"
	// LabelTask marks the container of a one-off task (POST
	// /apps/:app/run, release commands) with the task's id. Such a
	// container is never routed, never counted as an instance, and left
	// alone by the reconciler while a controller runs it.
	LabelTask = "longshoreman.task"
	// LabelTaskDeadline carries, on a task's container, the time (RFC
	// 3339, UTC) past which it is killed: by the controller that started
	// it, or, when that one stopped meanwhile, by whichever leads. A task
	// container without it (from a release before it) is past its
	// deadline.
	LabelTaskDeadline = "longshoreman.task.deadline"
)

// App is a domain name with its settings. Image, Count, Port and HealthCheck
// describe what should run; Revision names the revision that holds them (0:
// never deployed).
type App struct {
	Name        string            `json:"name"`
	Envs        map[string]string `json:"envs"`
	Image       string            `json:"image,omitempty"`
	Count       int               `json:"count"`
	Port        int               `json:"port,omitempty"`
	HealthCheck HealthCheck       `json:"healthcheck"`
	Revision    int               `json:"revision"`
	Created     time.Time         `json:"created"`
	// Deleting records that DELETE /apps began: it stops every instance,
	// then the app goes; a controller restarted meanwhile completes it.
	Deleting bool `json:"deleting,omitempty"`

	// The current revision's other settings (see Revision), mirrored here
	// like Image and Port.
	Command []string `json:"command,omitempty"`
	Release []string `json:"release,omitempty"`
	Memory  Bytes    `json:"memory,omitempty"`
	CPUs    float64  `json:"cpus,omitempty"`
	Volumes []string `json:"volumes,omitempty"`
	Hosts   []string `json:"hosts,omitempty"`
	Hold    Duration `json:"hold,omitempty"`
	// Holding is set while a stop-first deploy (an app with volumes)
	// replaces its instances: the routers hold the app's requests while
	// it has no routed instance (see AddHeld).
	Holding bool `json:"holding,omitempty"`

	// App settings: how the app's instances are replaced and stopped,
	// changed apart from any revision and kept across them (see
	// settings.go).
	Batch       int       `json:"batch,omitempty"`        // replace this many at a time; 0: all at once
	StopTimeout *Duration `json:"stop_timeout,omitempty"` // SIGTERM to SIGKILL; nil: DefaultStopTimeout
	Drain       *Duration `json:"drain,omitempty"`        // unrouted to SIGTERM; nil: the controller's LONGSHOREMAN_DRAIN

	// HTTPS says whether the routers serve the app over HTTPS, with a
	// certificate the controller obtains, and redirect plain HTTP to it.
	HTTPS AppHTTPS `json:"https,omitzero"`

	// Maintenance says whether the routers answer the app's requests
	// themselves, 503 with a page, instead of proxying them; its instances
	// keep running and deploys go on (see maintenance.go).
	Maintenance AppMaintenance `json:"maintenance,omitzero"`

	// Canary is the canary under way: a revision whose instances run
	// beside the current revision's with a share of its requests, until
	// promoted or aborted (see canary.go). Nil when there is none.
	Canary *AppCanary `json:"canary,omitempty"`
	// Limits at the edge (see limits.go): requests per client address
	// (zero: none) with their burst (0: the rate's number), and the
	// largest request body in bytes (0: none).
	RateLimit Rate  `json:"rate_limit,omitzero"`
	Burst     int   `json:"burst,omitempty"`
	MaxBody   Bytes `json:"max_body,omitempty"`
}

// AppHTTPS is an app's HTTPS setting (POST /apps/:app/https).
type AppHTTPS struct {
	Enabled  bool `json:"enabled"`
	Redirect bool `json:"redirect"`
}

// Apply makes rev the app's current revision: its image, count, port,
// health check, envs and other settings become the app's.
func (a *App) Apply(rev *Revision) {
	a.Image, a.Count, a.Port, a.HealthCheck, a.Revision = rev.Image, rev.Count, rev.Port, rev.HealthCheck, rev.Number
	a.Command, a.Release, a.Memory, a.CPUs = rev.Command, rev.Release, rev.Memory, rev.CPUs
	a.Volumes, a.Hosts, a.Hold = rev.Volumes, rev.Hosts, rev.Hold
	a.Envs = map[string]string{}
	for _, kv := range rev.Envs {
		k, v, _ := ParseEnv(kv)
		a.Envs[k] = v
	}
}

// EnvList returns the app's envs as sorted KEY=value strings.
func (a *App) EnvList() []string { return EnvList(a.Envs) }

// Deployed reports whether the app has a revision to run.
func (a *App) Deployed() bool { return a.Revision > 0 && a.Image != "" }

// HealthCheck says how to tell that an instance is ready: an HTTP GET of Path
// answered with a 2xx within Timeout of the container's start.
type HealthCheck struct {
	Path    string   `json:"path,omitempty"`
	Timeout Duration `json:"timeout,omitempty"`
}

// WithDefaults returns h with empty fields set to the defaults.
func (h HealthCheck) WithDefaults() HealthCheck {
	if h.Path == "" {
		h.Path = DefaultHealthPath
	}
	if h.Timeout == 0 {
		h.Timeout = Duration(DefaultHealthTimeout)
	}
	return h
}

// Host is one node, named by its IP address. A draining host is being
// removed: it takes no new instances.
type Host struct {
	Addr     string    `json:"addr"`
	Added    time.Time `json:"added"`
	Draining bool      `json:"draining,omitempty"`
}

// Revision statuses.
const (
	StatusDeploying = "deploying"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// Revision is an immutable record of what was deployed, except for its
// Status and Reason, which move from deploying to succeeded or failed.
type Revision struct {
	App         string      `json:"app"`
	Number      int         `json:"revision"`
	Image       string      `json:"image"`
	Envs        []string    `json:"envs"`
	Count       int         `json:"count"`
	Port        int         `json:"port"`
	HealthCheck HealthCheck `json:"healthcheck"`
	Time        time.Time   `json:"time"`
	Status      string      `json:"status"`
	Reason      string      `json:"reason,omitempty"`
	// Command replaces the image's CMD (its ENTRYPOINT stays), as
	// `docker run IMAGE ARGS...` does; empty keeps the image's.
	Command []string `json:"command,omitempty"`
	// Release is run once, as a one-off task of this revision, after the
	// pull and before any new instance starts; empty runs nothing.
	Release []string `json:"release,omitempty"`
	// Memory is each instance's memory limit, enforced by Docker and
	// reserved on its host by placement; 0 is no limit and no reservation.
	Memory Bytes `json:"memory,omitempty"`
	// CPUs is each instance's CPU limit in cores; 0 is no limit.
	CPUs float64 `json:"cpus,omitempty"`
	// OOMKills counts this revision's instances killed by the kernel for
	// going past their memory limit (each was replaced); LastOOM is when
	// the last one was.
	OOMKills int       `json:"oom_kills,omitempty"`
	LastOOM  time.Time `json:"last_oom,omitzero"`
	// Canary is the percent of the requests the revision took when it
	// was deployed as a canary (0: it was not); Finished is when its
	// outcome was recorded (for a canary: its promote or abort).
	Canary   int       `json:"canary,omitempty"`
	Finished time.Time `json:"finished,omitzero"`
	// Volumes are NAME:/path, each a Docker local volume on every pinned
	// host (see volume.go); Hosts are the hosts the revision runs on, and
	// only there (empty: any host); Hold is how long the routers hold the
	// app's requests during a stop-first deploy (0: DefaultHold).
	Volumes []string `json:"volumes,omitempty"`
	Hosts   []string `json:"hosts,omitempty"`
	Hold    Duration `json:"hold,omitempty"`
}

// Instance is one container of one revision of one app on one host,
// reachable at Host:Port. Routed instances are healthy and in the routing
// table.
type Instance struct {
	ID       string    `json:"id"`
	App      string    `json:"app"`
	Revision int       `json:"revision"`
	Host     string    `json:"host"`
	Port     int       `json:"port"`
	Routed   bool      `json:"routed"`
	Started  time.Time `json:"started"`
	// Retiring instances are unrouted and are stopped once every router
	// was sent a table without them: one of version RetireAfter or newer
	// (0 while that version is not yet known: any table built after they
	// were unrouted will do). Kept in the data file so a restart never
	// stops them before the routers were told.
	Retiring    bool   `json:"retiring,omitempty"`
	RetireAfter uint64 `json:"retire_after,omitempty"`
	// Memory is the memory limit the instance runs with, which placement
	// counts as reserved on its host; 0 reserves nothing.
	Memory Bytes `json:"memory,omitempty"`
}

// Addr returns the instance's HOST:PORT address.
func (i Instance) Addr() string { return net.JoinHostPort(i.Host, strconv.Itoa(i.Port)) }

// RoutingTable is what routers receive: every app's routed instance
// addresses. Tables are ordered by (Epoch, Version): Version rises with every
// change within a data file, and Epoch is raised at every controller start to
// at least the clock in nanoseconds, so a restarted or restored controller
// still publishes above anything a router holds. A router applies a table
// only when its (Epoch, Version) is higher than the one it holds, and only
// from the Cluster it serves.
type RoutingTable struct {
	Version    uint64              `json:"version"`
	Controller string              `json:"controller"`
	Time       time.Time           `json:"time"`
	Routes     map[string][]string `json:"routes"`
	Epoch      uint64              `json:"epoch,omitempty"`   // raised at every controller start
	Cluster    string              `json:"cluster,omitempty"` // the data file's cluster id, made at its creation

	// HTTPS lists the apps served over HTTPS by the routers, with whether
	// plain HTTP requests are redirected to HTTPS.
	HTTPS map[string]HTTPSRoute `json:"https,omitempty"`
	// Challenges holds the pending ACME HTTP-01 challenges, token to key
	// authorization, which every router answers at
	// /.well-known/acme-challenge/TOKEN.
	Challenges map[string]string `json:"challenges,omitempty"`
	// Certs changes whenever a certificate changes: a router whose
	// certificates are of another version fetches them from the
	// controller's API (they never travel over Redis).
	Certs uint64 `json:"certs,omitempty"`
	// Maintenance lists the apps in maintenance, which every router
	// answers with 503 and the message instead of proxying. A router of
	// an earlier release ignores it and keeps proxying.
	Maintenance map[string]MaintenanceRoute `json:"maintenance,omitempty"`
	// Held lists the apps whose requests a router holds, for at most the
	// duration given, while they have no routed instance: a stop-first
	// deploy is replacing them (see AddHeld).
	Held map[string]Duration `json:"held,omitempty"`
	// Format is TableFormatCanary when the table carries a canary, left
	// out otherwise; a router refuses a table of a format it does not
	// know (see canary.go).
	Format int `json:"format,omitempty"`
	// Canary lists the apps whose requests are split between the current
	// revision's instances (Routes) and a canary's, by weight.
	Canary map[string]CanaryRoute `json:"canary,omitempty"`
	// Limits lists the apps whose requests the routers limit: a rate per
	// client address and a largest body (see LimitRoute). A router of an
	// earlier release ignores it and does not limit.
	Limits map[string]LimitRoute `json:"limits,omitempty"`
}

// HTTPSRoute is how the routers serve one app over HTTPS.
type HTTPSRoute struct {
	Redirect bool `json:"redirect,omitempty"` // answer plain HTTP with 308 to https
}

// CertBundle is one domain's certificate chain and private key in PEM, as
// routers fetch them (GET /router/certs, with the router token).
type CertBundle struct {
	Domain   string    `json:"domain"` // a name or a wildcard (*.example.com)
	Cert     string    `json:"cert"`   // PEM chain, leaf first
	Key      string    `json:"key"`    // PEM private key
	NotAfter time.Time `json:"not_after"`
}

// CertSet is every certificate the routers serve, at version Version (the
// RoutingTable's Certs).
type CertSet struct {
	Version uint64       `json:"version"`
	Certs   []CertBundle `json:"certs"`
}

// Newer reports whether t comes after u in the (Epoch, Version) order.
func (t RoutingTable) Newer(u RoutingTable) bool {
	if t.Epoch != u.Epoch {
		return t.Epoch > u.Epoch
	}
	return t.Version > u.Version
}

// ContainerSpec is what the scheduler asks a Docker host to run.
type ContainerSpec struct {
	App        string
	Revision   int
	Host       string
	Controller string
	Image      string
	Env        []string
	Port       int      // the container port, published on Host with a port Docker picks
	Command    []string // replaces the image's CMD when not empty
	Memory     Bytes    // memory limit; 0: none
	CPUs       float64  // CPU limit in cores; 0: none
	// Mounts are the named local volumes mounted in the container (made
	// by Docker when missing, never removed with the container).
	Mounts []VolumeMount
	// Task names a one-off task (LabelTask): the container publishes no
	// port, is never restarted and never counts as an instance.
	Task string
	// TaskDeadline is when the task is killed if still running
	// (LabelTaskDeadline).
	TaskDeadline time.Time
}

// Container is what a Docker host reports about a container that carries the
// controller's labels.
type Container struct {
	ID         string
	App        string
	Revision   int
	Host       string
	Controller string
	Image      string
	Port       int // the published host port, 0 when not running
	Running    bool
	State      string // Docker's status: "running", "restarting", "exited"...
	Restarts   int    // times Docker restarted it after it exited
	ExitCode   int    // of the last exit
	OOMKilled  bool   // the last exit was the kernel killing it for memory
	Task       string // LabelTask: a one-off task, not an instance
	// TaskDeadline is a task container's LabelTaskDeadline; zero when it
	// has none.
	TaskDeadline time.Time
	// Created is when Docker created it, to the second (as List reports
	// it; Inspect and Run truncate it alike).
	Created time.Time
}

// ContainerEvent is a change Docker reported about a managed container.
type ContainerEvent struct {
	Host string
	ID   string
	App  string
	// Revision is the container's revision label, 0 when it has none.
	Revision int
	Action   string // Docker's action: "start", "die", "stop", "kill", "destroy", "health_status: ..."
	Time     time.Time
}

// SortInstances sorts instances in the order every store lists them: by
// app, then host, then port, then container id.
func SortInstances(insts []Instance) {
	slices.SortFunc(insts, func(a, b Instance) int {
		return cmp.Or(cmp.Compare(a.App, b.App), cmp.Compare(a.Host, b.Host), cmp.Compare(a.Port, b.Port), cmp.Compare(a.ID, b.ID))
	})
}

// Finish records rev's outcome (status, reason) and its time.
func (rev *Revision) Finish(status, reason string) {
	rev.Status, rev.Reason, rev.Finished = status, reason, time.Now().UTC()
}
