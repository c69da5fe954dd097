package cluster

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limits at the edge: an app may cap the requests each client address
// sends it (a rate with a burst, a token bucket per client IP) and the
// size of a request body. They are app settings (POST
// /apps/:app/settings), kept in the App record, and carried to the routers
// in the signed routing table (RoutingTable.Limits); the routers enforce
// them, answering 429 with Retry-After and 413.

// Bounds of the limits.
const (
	MaxRateCount = 1_000_000 // requests per unit
	MaxBurst     = 1_000_000
)

// Rate is a number of requests per second, minute or hour ("10/s",
// "600/m", "100/h"). The zero Rate is no limit ("none"). It reads from
// and writes to JSON as that string.
type Rate struct {
	N   int           // requests per Per; 0: no limit
	Per time.Duration // time.Second, time.Minute or time.Hour
}

// rateForms names the accepted forms in the messages of a bad rate.
const rateForms = `requests per second, minute or hour such as "10/s", "600/m" or "100/h", or "none" for no limit`

// ParseRate reads "10/s", "600/m", "100/h" (also "10/sec", "600/min",
// "100/hour") or "none" (the zero Rate). The number is from 1 to
// MaxRateCount.
func ParseRate(s string) (Rate, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "none" {
		return Rate{}, nil
	}
	num, unit, ok := strings.Cut(t, "/")
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if !ok || err != nil {
		return Rate{}, fmt.Errorf("must be %s, not %q", rateForms, s)
	}
	var per time.Duration
	switch strings.TrimSpace(unit) {
	case "s", "sec", "second":
		per = time.Second
	case "m", "min", "minute":
		per = time.Minute
	case "h", "hour":
		per = time.Hour
	default:
		return Rate{}, fmt.Errorf("must be %s, not %q", rateForms, s)
	}
	if n < 1 || n > MaxRateCount {
		return Rate{}, fmt.Errorf("must allow from 1 to %d requests per unit (%s), not %q", MaxRateCount, rateForms, s)
	}
	return Rate{N: n, Per: per}, nil
}

// String writes r as ParseRate reads it: "10/s", or "none".
func (r Rate) String() string {
	if r.N <= 0 {
		return "none"
	}
	unit := "s"
	switch r.Per {
	case time.Minute:
		unit = "m"
	case time.Hour:
		unit = "h"
	}
	return strconv.Itoa(r.N) + "/" + unit
}

// IsZero reports whether r is no limit.
func (r Rate) IsZero() bool { return r.N <= 0 }

// Interval is the time one request costs: Per / N.
func (r Rate) Interval() time.Duration { return r.Per / time.Duration(r.N) }

// MarshalJSON writes "10/s" ("none" for the zero Rate).
func (r Rate) MarshalJSON() ([]byte, error) { return json.Marshal(r.String()) }

// UnmarshalJSON accepts what ParseRate does, as a JSON string.
func (r *Rate) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("must be a string of %s, not %s", rateForms, b)
	}
	x, err := ParseRate(s)
	if err != nil {
		return err
	}
	*r = x
	return nil
}

// maxBodyForms names the accepted forms in the messages of a bad body
// limit.
const maxBodyForms = `a size such as "10m" or "512k" (k, m, g: powers of 1024) or a number of bytes, or "none" for no limit`

// ParseMaxBody reads a body limit: a size as ParseBytes reads it, at least
// one byte, or "none" (or 0): no limit.
func ParseMaxBody(s string) (Bytes, error) {
	if strings.EqualFold(strings.TrimSpace(s), "none") {
		return 0, nil
	}
	b, err := ParseBytes(s)
	if err != nil || b < 0 {
		return 0, fmt.Errorf("must be %s, not %q", maxBodyForms, s)
	}
	return b, nil
}

// UnmarshalMaxBody reads a body limit from JSON: a number of bytes or a
// string ParseMaxBody reads.
func UnmarshalMaxBody(b []byte) (Bytes, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return 0, err
	}
	switch v := v.(type) {
	case float64:
		if v < 0 || v > 1<<50 || v != float64(int64(v)) {
			return 0, fmt.Errorf("must be %s, not %s", maxBodyForms, b)
		}
		return Bytes(v), nil
	case string:
		return ParseMaxBody(v)
	}
	return 0, fmt.Errorf("must be %s, not %s", maxBodyForms, b)
}

// ValidateBurst checks a burst: how many requests a client may send at
// once before its rate applies, from 1 to MaxBurst.
func ValidateBurst(n int) error {
	if n < 1 || n > MaxBurst {
		return Errorf(EINVALID, "Field \"burst\" must be from 1 to %d (the requests a client may send at once before its rate applies), not %d.", MaxBurst, n)
	}
	return nil
}

// BurstOf returns the burst that applies to a: its own, or its rate's
// number (10 for "10/s") when it sets none; 0 without a rate limit.
func (a *App) BurstOf() int {
	if a.RateLimit.IsZero() {
		return 0
	}
	if a.Burst > 0 {
		return a.Burst
	}
	return min(a.RateLimit.N, MaxBurst)
}

// LimitRoute is how the routers limit one app's requests: a token bucket
// per client address of Burst requests refilled at Rate (none when Rate is
// zero), and request bodies of at most MaxBody bytes (none when 0).
type LimitRoute struct {
	Rate    Rate  `json:"rate,omitzero"`
	Burst   int   `json:"burst,omitempty"`
	MaxBody Bytes `json:"max_body,omitempty"`
}

// AddLimits adds app to the table's limited apps when it has a rate limit
// or a body limit (and is not being deleted). Both stores build the table
// with it.
func AddLimits(t *RoutingTable, app *App) {
	if app.Deleting || app.RateLimit.IsZero() && app.MaxBody <= 0 {
		return
	}
	if t.Limits == nil {
		t.Limits = map[string]LimitRoute{}
	}
	t.Limits[app.Name] = LimitRoute{Rate: app.RateLimit, Burst: app.BurstOf(), MaxBody: max(app.MaxBody, 0)}
}
