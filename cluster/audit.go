package cluster

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// The audit log's retention and answers.
const (
	// DefaultAuditKeep is how many entries the store keeps by default
	// (LONGSHOREMAN_AUDIT_KEEP); the oldest go first.
	DefaultAuditKeep = 10000
	// DefaultAuditMaxAge is how long an entry is kept by default
	// (LONGSHOREMAN_AUDIT_MAX_AGE).
	DefaultAuditMaxAge = 90 * 24 * time.Hour
	// DefaultAuditLimit is how many entries GET /audit answers without a
	// limit; MaxAuditLimit is the most it answers.
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
	// MaxAuditText bounds an entry's outcome and each of its arguments'
	// values; longer ones are cut there.
	MaxAuditText = 300
	// MaxAuditArgs bounds an entry's arguments.
	MaxAuditArgs = 16
)

// RecordAudit is the record kind of audit entries: Key is AuditKey's.
const RecordAudit = "audit"

// EventAudit is the Event type of an audit entry: Step is its operation,
// Message its outcome, Token and Source who asked and from where.
const EventAudit = "audit"

// AuditOK is the Outcome of a change that succeeded.
const AuditOK = "ok"

// AuditEntry is one change asked of the API (every request but reads,
// plus backups and task runs) or one refused for its token's scope: when,
// who (the token's name), from where, what, on which app, with which
// arguments (never an env's value nor a request body), and how it ended.
type AuditEntry struct {
	Time      time.Time         `json:"time"`
	Token     string            `json:"token"`
	Source    string            `json:"source"`                // the client's address; "CLIENT via FORWARDER" for a request a follower forwarded
	Operation string            `json:"operation"`             // the CLI command's name, such as deploy or envs:set
	App       string            `json:"app,omitempty"`         // the route's :app
	Args      map[string]string `json:"args,omitempty"`        // what the request named: route parameters and the few fields each handler notes
	Status    int               `json:"status"`                // the HTTP status; for a stream, the status its final line carries
	Outcome   string            `json:"outcome"`               // AuditOK, or the error's sentence, cut at MaxAuditText
	Duration  int64             `json:"duration_ms,omitempty"` // how long the request ran
}

// AuditFilter selects entries for Audit: all of them match each non-empty
// field. Limit bounds the answer (zero: DefaultAuditLimit).
type AuditFilter struct {
	App   string
	Token string
	Since time.Time // entries at or after it
	Limit int
}

// Match reports whether e passes f's App, Token and Since.
func (f AuditFilter) Match(e AuditEntry) bool {
	return (f.App == "" || e.App == f.App) && (f.Token == "" || e.Token == f.Token) && !e.Time.Before(f.Since)
}

// Max returns how many entries an answer to f holds at most.
func (f AuditFilter) Max() int {
	if f.Limit <= 0 {
		return DefaultAuditLimit
	}
	return min(f.Limit, MaxAuditLimit)
}

// AuditStore keeps the audit log, oldest pruned first.
type AuditStore interface {
	// AppendAudit stores e and, in the same transaction, deletes the
	// entries beyond the newest keep and those older than maxAge before
	// e.Time (keep or maxAge zero or less: no such bound).
	AppendAudit(e AuditEntry, keep int, maxAge time.Duration) error
	// Audit returns the entries f matches, newest first, at most f.Max().
	Audit(f AuditFilter) ([]AuditEntry, error)
	// Audited returns a view of the store whose first write transaction
	// also stores w's entry and prunes as AppendAudit does; its other
	// writes and its reads are the store's.
	Audited(w *AuditWrite) Store
}

// AuditWrite is an audit entry that rides in the transaction of the
// change it records (see AuditStore.Audited), so that a crash cannot
// leave the change without its entry: the entry of a change made in one
// write is stored in that write's transaction, or, when the transaction
// fails, recorded by the API with the failure (then there is no change).
type AuditWrite struct {
	// Entry makes the entry, called in the transaction: its outcome is
	// the change's success, for the transaction stores nothing otherwise.
	Entry  func() AuditEntry
	Keep   int
	MaxAge time.Duration

	taken  atomic.Bool
	stored atomic.Bool
}

// Take reports whether the write transaction asking carries the entry:
// the first to ask does, whether it then commits or not.
func (w *AuditWrite) Take() bool { return w != nil && w.taken.CompareAndSwap(false, true) }

// Committed marks the entry stored with its change; the transaction that
// took it calls it once it committed.
func (w *AuditWrite) Committed() { w.stored.Store(true) }

// Stored reports whether the entry was stored with its change.
func (w *AuditWrite) Stored() bool { return w != nil && w.stored.Load() }

type auditWriteKey struct{}

// WithAuditWrite returns ctx carrying w, for an operation whose one write
// is made through a store the operation finds from ctx (a scheduler's
// fenced store).
func WithAuditWrite(ctx context.Context, w *AuditWrite) context.Context {
	return context.WithValue(ctx, auditWriteKey{}, w)
}

// AuditWriteOf returns the AuditWrite ctx carries, nil for none.
func AuditWriteOf(ctx context.Context) *AuditWrite {
	w, _ := ctx.Value(auditWriteKey{}).(*AuditWrite)
	return w
}

// AuditKey is the key of an entry at t, the n-th of its store: its time
// in nanoseconds then n, both in fixed-width hex, so that keys sort by
// time. Both stores key entries so.
func AuditKey(t time.Time, n uint64) string {
	return fmt.Sprintf("%016x-%08x", uint64(max(t.UnixNano(), 0)), uint32(n))
}

// AuditKeyBefore is the least key of an entry at t: every entry older
// than t sorts below it.
func AuditKeyBefore(t time.Time) string {
	return fmt.Sprintf("%016x", uint64(max(t.UnixNano(), 0)))
}

// Clip cuts the operation, the source, the outcome and each argument's
// value at MaxAuditText bytes (on a rune boundary), marking the cut.
func (e *AuditEntry) Clip() {
	e.Operation, e.Source, e.Outcome = clipText(e.Operation), clipText(e.Source), clipText(e.Outcome)
	for k, v := range e.Args {
		e.Args[k] = clipText(v)
	}
}

func clipText(s string) string {
	if len(s) <= MaxAuditText {
		return s
	}
	cut := MaxAuditText - len("…")
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
