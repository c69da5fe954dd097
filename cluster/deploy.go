package cluster

// DeployRequest is what a deploy asks for. Zero fields take the app's
// current value, then the defaults.
type DeployRequest struct {
	Image       string      `json:"image"`
	Count       int         `json:"count,omitempty"`
	Port        int         `json:"port,omitempty"`
	HealthCheck HealthCheck `json:"healthcheck,omitempty"`
	Command     []string    `json:"command,omitempty"` // see Revision
	Release     []string    `json:"release,omitempty"` // see Revision
	Memory      Bytes       `json:"memory,omitempty"`  // see Revision; 0 keeps the app's, negative removes it
	CPUs        float64     `json:"cpus,omitempty"`    // see Revision; 0 keeps the app's, negative removes it
	// Batch replaces the instances this many at a time for this deploy;
	// 0 takes the app's setting (all at once when unset).
	Batch int `json:"batch,omitempty"`
	// Volumes and Hosts (see Revision): nil keeps the app's, an empty
	// list clears them. Hold 0 keeps the app's.
	Volumes []string `json:"volumes,omitempty"`
	Hosts   []string `json:"hosts,omitempty"`
	Hold    Duration `json:"hold,omitempty"`
	// Canary, when above 0, makes the deploy a canary (see canary.go):
	// CanaryCount instances (0: DefaultCanaryCount) take Canary percent
	// of the app's requests until promoted or aborted; CanaryAuto
	// promotes it after that long; CanaryMaxErrors is the margin of its
	// 5xx rate over the current revision's.
	Canary          int      `json:"canary,omitempty"`
	CanaryCount     int      `json:"canary_count,omitempty"`
	CanaryAuto      Duration `json:"canary_auto,omitempty"`
	CanaryMaxErrors float64  `json:"canary_max_errors,omitempty"`
}

// DeployResult is the outcome of a deploy, rollback, scale or restart.
type DeployResult struct {
	Revision  int      `json:"revision"`
	Instances []string `json:"instances"`
}

// Progress is one step of a deploy, as streamed to clients that ask for
// application/x-ndjson.
type Progress struct {
	Step     string `json:"step"` // "revision", "pulling", "pulled", "starting", "started", "healthy", "routed", "unrouted", "draining", "stopped", "failed", "warning", "batch", "restoring", "stopping" (stop-first, see volume.go)
	Host     string `json:"host,omitempty"`
	Instance string `json:"instance,omitempty"`
	Message  string `json:"message,omitempty"`
	Elapsed  int64  `json:"elapsed_ms"` // since the deploy began
}

// ProgressFunc receives deploy steps as they happen. It may be nil.
type ProgressFunc func(Progress)
