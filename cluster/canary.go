package cluster

import (
	"time"
)

// Canary deploys: `deploy IMAGE --canary 10` starts the new revision's
// instances beside the current ones and the routers send that share of the
// app's requests to them, a client keeping its side (a cookie) for the
// canary's life. The revision's status is then StatusCanary and the app
// records it in App.Canary until `promote` makes it the current revision
// (the normal rollout) or `abort` removes its instances.

// StatusCanary is the status of a revision whose instances run beside the
// current revision's and take a share of its requests.
const StatusCanary = "canary"

// Canary limits and defaults.
const (
	MinCanaryWeight    = 1
	MaxCanaryWeight    = 99
	DefaultCanaryCount = 1
	// DefaultCanaryMaxErrors is how many percentage points the canary's
	// 5xx rate may be above the current revision's (--canary-max-errors).
	DefaultCanaryMaxErrors = 1.0
	// MinCanaryRequests is how many requests a canary needs when its
	// --canary-auto delay is up for its 5xx rate to be compared; with
	// fewer it is promoted on time.
	MinCanaryRequests = 20
)

// Ops of the canary commands, for the fixes of errors.
const (
	OpPromote = "promote"
	OpAbort   = "abort"
)

func init() { Ops = append(Ops, OpPromote, OpAbort) }

// TableFormat is the routing table's format when it carries a canary
// (RoutingTable.Format). A table without one leaves the field out (format
// 1), so routers of every release read it; a router refuses a table of a
// format above the one it knows, and logs it, rather than routing it
// without the canary's weights.
const (
	TableFormatPlain  = 1
	TableFormatCanary = 2
	// TableFormatKnown is the highest format this release reads.
	TableFormatKnown = TableFormatCanary
)

// AppCanary is an app's canary under way (App.Canary).
type AppCanary struct {
	Revision int       `json:"revision"` // the canary's revision, StatusCanary once its instances are routed
	Weight   int       `json:"weight"`   // percent of the app's requests, 1-99
	Count    int       `json:"count"`    // its instances
	Started  time.Time `json:"started"`
	// Auto promotes the canary by itself this long after it started
	// (0: never), or aborts it when its 5xx rate is too high (MaxErrors).
	Auto Duration `json:"auto,omitempty"`
	// MaxErrors is how many percentage points the canary's 5xx rate may be
	// above the current revision's when Auto is up before it is aborted
	// instead of promoted.
	MaxErrors float64 `json:"max_errors,omitempty"`
	// Promoting is set while promote replaces the current revision's
	// instances: the table then routes the canary's instances like the
	// others, without weights.
	Promoting bool `json:"promoting,omitempty"`
}

// CanaryRoute is how the routers split one app's requests: Weight percent
// of the clients go to Routes (the canary revision's instances), the rest
// to the app's entry in RoutingTable.Routes.
type CanaryRoute struct {
	Revision int      `json:"revision"`
	Weight   int      `json:"weight"`
	Routes   []string `json:"routes"`
}

// IsCanary reports whether inst is an instance of a's canary.
func (a *App) IsCanary(inst Instance) bool {
	return a.Canary != nil && inst.App == a.Name && inst.Revision == a.Canary.Revision
}

// AddCanary moves the routed instances of app's canary from the table's
// routes of the app to its canary entry, with the canary's weight, and
// raises the table's format. A canary being promoted is routed like the
// rest. insts are every instance (both stores build the table with it).
func AddCanary(t *RoutingTable, app *App, insts []Instance) {
	if app.Canary == nil || app.Canary.Promoting || app.Deleting {
		return
	}
	c := CanaryRoute{Revision: app.Canary.Revision, Weight: app.Canary.Weight, Routes: []string{}}
	rest := []string{} // the app stays in the table: no instance left is a 503, not a 404
	for _, inst := range insts {
		if inst.App != app.Name || !inst.Routed {
			continue
		}
		if app.IsCanary(inst) {
			c.Routes = append(c.Routes, inst.Addr())
		} else {
			rest = append(rest, inst.Addr())
		}
	}
	t.Routes[app.Name] = rest
	if t.Canary == nil {
		t.Canary = map[string]CanaryRoute{}
	}
	t.Canary[app.Name] = c
	t.Format = TableFormatCanary
}

// ValidateCanary checks a deploy's canary settings: the weight in percent,
// the count of instances, and the margin of --canary-max-errors.
func ValidateCanary(weight, count, maxCount int, auto time.Duration, maxErrors float64) error {
	if weight < MinCanaryWeight || weight > MaxCanaryWeight {
		return Errorf(EINVALID, "The canary's share is %d percent: give %d to %d (the percent of the app's requests its new revision takes)", weight, MinCanaryWeight, MaxCanaryWeight).WithFix("deploy again with --canary 10, for example:", OpDeploy)
	}
	if count < 1 || count > maxCount {
		return Errorf(EINVALID, "The canary's count is %d: give 1 to %d instances", count, maxCount).WithFix("deploy again with --canary-count 1, for example:", OpDeploy)
	}
	if auto < 0 {
		return Errorf(EINVALID, "The canary's auto-promote delay is %s: give a positive duration such as 5m, or none", auto).WithFix("deploy again with --canary-auto 5m, for example:", OpDeploy)
	}
	if maxErrors < 0 || maxErrors > 100 {
		return Errorf(EINVALID, "The canary's error margin is %g percentage points: give 0 to 100", maxErrors).WithFix("deploy again with --canary-max-errors 1, for example:", OpDeploy)
	}
	return nil
}
