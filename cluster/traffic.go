package cluster

import "time"

// Traffic figures: each router counts, per app and per instance, the
// requests it proxied, their answers by class, the answer bytes and a
// latency histogram, and sends the counts of the last interval to the
// controllers as a TrafficSummary (docs/routing.md, "Traffic summaries").

// TrafficInterval is how often a router sends a TrafficSummary.
const TrafficInterval = 5 * time.Second

// LatencyBounds are the upper bounds (inclusive) of the latency histogram's
// buckets; a last bucket holds what is slower than the last bound. The
// latency of a request runs from the router having its head to the end of
// its answer.
var LatencyBounds = [...]time.Duration{
	500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	200 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second,
	5 * time.Second, 10 * time.Second, 30 * time.Second, 60 * time.Second,
}

// LatencyBuckets is the number of buckets of a latency histogram.
const LatencyBuckets = len(LatencyBounds) + 1

// LatencyBucket returns the histogram bucket of a request that took d.
func LatencyBucket(d time.Duration) int {
	for i, b := range LatencyBounds {
		if d <= b {
			return i
		}
	}
	return len(LatencyBounds)
}

// The answer classes a router counts; 502 and 504 (no instance answered,
// or not in time) are apart from the other 5xx. Informational answers
// (101 Switching Protocols) count as 2xx.
const (
	Class2xx = iota
	Class3xx
	Class4xx
	Class5xx // 5xx but 502 and 504
	Class502
	Class504
	Classes
)

// AnswerClass returns the class of an answer's status code.
func AnswerClass(status int) int {
	switch {
	case status < 300:
		return Class2xx
	case status < 400:
		return Class3xx
	case status < 500:
		return Class4xx
	case status == 502:
		return Class502
	case status == 504:
		return Class504
	}
	return Class5xx
}

// ClassNames name the answer classes, in their order, as the metrics'
// labels and the summaries' fields do.
var ClassNames = [Classes]string{"2xx", "3xx", "4xx", "5xx", "502", "504"}

// TrafficCounts are the counts of one app or instance over an interval.
type TrafficCounts struct {
	Answers [Classes]uint64        `json:"answers"` // by class, in the order of ClassNames
	Bytes   uint64                 `json:"bytes"`   // answer body bytes sent to clients
	Latency [LatencyBuckets]uint64 `json:"latency"` // by bucket of LatencyBounds
}

// Requests returns the number of requests counted: one answer each.
func (c TrafficCounts) Requests() uint64 {
	var n uint64
	for _, v := range c.Answers {
		n += v
	}
	return n
}

// Errors returns the answers of class 5xx, 502 and 504.
func (c TrafficCounts) Errors() uint64 {
	return c.Answers[Class5xx] + c.Answers[Class502] + c.Answers[Class504]
}

// Add adds o's counts to c's.
func (c *TrafficCounts) Add(o TrafficCounts) {
	for i, v := range o.Answers {
		c.Answers[i] += v
	}
	c.Bytes += o.Bytes
	for i, v := range o.Latency {
		c.Latency[i] += v
	}
}

// AppTraffic is one app's counts in a summary, and its instances' (by
// address); requests answered without an instance (none was routed, the
// app was held out, its limits refused them) are in the app's counts only.
type AppTraffic struct {
	TrafficCounts
	Instances map[string]TrafficCounts `json:"instances,omitempty"`
}

// TrafficSummary is what one router counted since its previous summary.
// Summaries of several routers add up: each carries the router's own id and
// a sequence number that grows by one per summary, so a replayed one is
// told from a new one.
type TrafficSummary struct {
	Cluster  string                `json:"cluster"`  // the cluster the router serves
	Router   string                `json:"router"`   // the router's id, made at its start
	Sequence uint64                `json:"sequence"` // 1, 2, ... per router id
	Time     time.Time             `json:"time"`     // the end of the interval, on the router's clock
	Apps     map[string]AppTraffic `json:"apps"`     // the apps with requests in the interval
}

// TrafficFigures are an app's (or an instance's) traffic over a span of
// time, as GET /apps/:app/traffic answers them. Latencies are in
// milliseconds, read from the merged histogram of every router (within a
// bucket of LatencyBounds, by linear interpolation); the error rate is
// Errors / Requests (0 without requests).
type TrafficFigures struct {
	Since     Duration          `json:"since"`      // the span asked for
	Requests  uint64            `json:"requests"`   // answered in the span
	Errors    uint64            `json:"errors"`     // of them, 5xx (502 and 504 included)
	Answers   map[string]uint64 `json:"answers"`    // by class (ClassNames)
	Bytes     uint64            `json:"bytes"`      // answer body bytes
	RPS       float64           `json:"rps"`        // Requests over the span
	P50       float64           `json:"p50"`        // ms
	P95       float64           `json:"p95"`        // ms
	P99       float64           `json:"p99"`        // ms
	ErrorRate float64           `json:"error_rate"` // 0 to 1
	// Points are the span's 10 s buckets, oldest first (the app's only;
	// an instance's figures have none).
	Points []TrafficPoint `json:"points,omitempty"`
	// Instances are the figures of each instance (by address) that
	// answered in the span, when asked for (?instances=1); an instance's
	// are kept for the last hour only.
	Instances map[string]TrafficFigures `json:"instances,omitempty"`
}

// TrafficPoint is one 10 s bucket of an app's traffic.
type TrafficPoint struct {
	Time      time.Time `json:"time"` // the start of the bucket
	Requests  uint64    `json:"requests"`
	Errors    uint64    `json:"errors"`
	RPS       float64   `json:"rps"`
	P99       float64   `json:"p99"` // ms; 0 without requests
	ErrorRate float64   `json:"error_rate"`
}
