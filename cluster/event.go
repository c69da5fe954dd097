package cluster

import "time"

// Event kinds, the Type of an Event.
const (
	EventDeploy   = "deploy"   // a step of a deploy, rollback, env change or scale (Step as in Progress)
	EventInstance = "instance" // Step: routed, unrouted, died, oom, down (pinned to hosts that do not answer)
	EventHost     = "host"     // Step: up, down
	EventRevision = "revision" // Step: succeeded, failed, canary (its instances routed beside the current ones)
	EventLeader   = "leader"   // Step: elected, lost
	EventTask     = "task"     // Step: started, exited, lost
	EventCert     = "cert"     // Step: issued, renewed, failed
	EventApp      = "app"      // Step: maintenance (turned on, Message its text), serving (maintenance ended)
	EventJob      = "job"      // a scheduled job's run (Job names it); Step: started, succeeded, failed, skipped, lost
	// EventAudit (audit.go): an entry of the audit log.
)

// Event is one thing that happened in the cluster, as GET /events streams
// it. Its fields have the names of the ndjson progress lines' (Progress),
// plus what a stream of every app needs: the kind, the app and revision,
// and the time.
type Event struct {
	Type     string    `json:"type"`
	Step     string    `json:"step"`
	App      string    `json:"app,omitempty"`
	Revision int       `json:"revision,omitempty"`
	Host     string    `json:"host,omitempty"`
	Instance string    `json:"instance,omitempty"`
	Job      string    `json:"job,omitempty"`    // a scheduled job's name (EventJob)
	Token    string    `json:"token,omitempty"`  // who asked (EventAudit)
	Source   string    `json:"source,omitempty"` // from where (EventAudit)
	Message  string    `json:"message,omitempty"`
	Elapsed  int64     `json:"elapsed_ms,omitempty"`
	Time     time.Time `json:"time"`
}
