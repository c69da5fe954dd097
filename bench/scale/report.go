package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// row is one line of the report: a figure at every size, its goal (at the
// largest size) when it has one, and its growth between sizes.
type row struct {
	name  string
	value func(PointResult) float64
	unit  string  // "ms" or "MB"
	goal  float64 // 0: no goal
	// goalOf, when set, gives the goal from the largest size's settings.
	goalOf func(PointResult) float64
	skip   func(PointResult) bool
}

func durMS(d time.Duration) float64 { return float64(d) / 1e6 }

func endpoint(r PointResult, name string) EndpointResult {
	for _, e := range r.API {
		if e.Name == name {
			return e
		}
	}
	return EndpointResult{}
}

func serial(r PointResult, name string) EndpointResult {
	for _, e := range r.Serial {
		if e.Name == name {
			return e
		}
	}
	return EndpointResult{}
}

func peak(r PointResult, phases ...string) float64 {
	var m int64
	for _, p := range phases {
		m = max(m, r.PeakRSS[p])
	}
	return float64(m) / (1 << 20)
}

func rows() []row {
	noRedis := func(r PointResult) bool { return !r.Redis }
	var out []row
	for _, ep := range []string{"GET /apps", "GET /describe", "GET /:app/instances"} {
		out = append(out,
			row{name: ep + " p50", unit: "ms", value: func(r PointResult) float64 { return durMS(endpoint(r, ep).P50) }},
			row{name: ep + " p99", unit: "ms", goal: 5, value: func(r PointResult) float64 { return durMS(endpoint(r, ep).P99) }},
			row{name: ep + " one client p50 (service time)", unit: "ms", value: func(r PointResult) float64 { return durMS(serial(r, ep).P50) }},
			row{name: ep + " req/s", unit: "req/s", value: func(r PointResult) float64 { return endpoint(r, ep).RPS }},
			row{name: ep + " answer size", unit: "KB", value: func(r PointResult) float64 { return float64(endpoint(r, ep).Bytes) / 1024 }},
		)
	}
	out = append(out,
		row{name: "routing table build (db.RoutingTable after a change) p50", unit: "ms", value: func(r PointResult) float64 { return durMS(r.Build.P50) }},
		row{name: "routing table build max", unit: "ms", value: func(r PointResult) float64 { return durMS(r.Build.Max) }},
		row{name: "encode + PUBLISH p50", unit: "ms", skip: noRedis, value: func(r PointResult) float64 { return durMS(r.Publish.P50) }},
		row{name: "change -> router has it (build + encode + PUBLISH + deliver) p50", unit: "ms", skip: noRedis, value: func(r PointResult) float64 { return durMS(r.EndToEnd.P50) }},
		row{name: "change -> router has it, max", unit: "ms", goal: 20, skip: noRedis, value: func(r PointResult) float64 { return durMS(r.EndToEnd.Max) }},
		row{name: "table message size", unit: "KB", value: func(r PointResult) float64 { return float64(r.TableBytes) / 1024 }},
		row{name: "reconcile pass wall p50", unit: "ms", goal: 100, value: func(r PointResult) float64 { return durMS(r.PassWall.P50) }},
		row{name: "reconcile pass wall max", unit: "ms", value: func(r PointResult) float64 { return durMS(r.PassWall.Max) }},
		row{name: "reconcile pass CPU p50", unit: "ms", goal: 100, value: func(r PointResult) float64 { return durMS(r.PassCPU.P50) }},
		row{name: "reconcile pass CPU max", unit: "ms", value: func(r PointResult) float64 { return durMS(r.PassCPU.Max) }},
		row{name: "health checks per second (one per instance per probe interval)", unit: "checks/s", value: func(r PointResult) float64 { return r.Probes.PerSecond }},
		row{name: "controller CPU per second while only checking", unit: "ms/s", value: func(r PointResult) float64 { return durMS(r.Probes.CPUPerSecond) }},
		row{name: "health checks in flight, peak", unit: "checks", goalOf: func(r PointResult) float64 { return float64(r.Probes.Bound) },
			value: func(r PointResult) float64 { return float64(r.Probes.PeakInFlight) }},
		row{name: "latest start of a health check after it was due (warm-up and steady interval)", unit: "ms", value: func(r PointResult) float64 { return durMS(r.Probes.MaxLate) }},
		row{name: "instance switched to fail its check -> out of the routing table, max of 5", unit: "s", goalOf: func(r PointResult) float64 { return 2 * r.Probes.Interval.Seconds() },
			value: func(r PointResult) float64 { return slices.Max(append(r.Probes.Unrouted, 0)).Seconds() }},
		row{name: "same, min of 5", unit: "s", value: func(r PointResult) float64 { return slices.Min(append(r.Probes.Unrouted, time.Hour)).Seconds() }},
		row{name: "switched back to pass -> in the table again, max of 5", unit: "s", value: func(r PointResult) float64 { return slices.Max(append(r.Probes.Rerouted, 0)).Seconds() }},
		row{name: "controller RSS after GC", unit: "MB", goal: 150, value: func(r PointResult) float64 { return float64(r.RSS) / (1 << 20) }},
		row{name: "controller peak RSS while populating", unit: "MB", value: func(r PointResult) float64 { return peak(r, "populate") }},
		row{name: "controller peak RSS after populating (reconcile, routes, API load)", unit: "MB", value: func(r PointResult) float64 {
			return peak(r, "reconcile", "routes", "GET /apps", "GET /describe", "GET /:app/instances")
		}},
		row{name: "Go heap in use after GC", unit: "MB", value: func(r PointResult) float64 { return float64(r.HeapInuse) / (1 << 20) }},
		row{name: "data file", unit: "MB", value: func(r PointResult) float64 { return float64(r.DataFile) / (1 << 20) }},
	)
	return out
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// report writes the results as Markdown: the machine, the command, one
// column per size, the goal and its verdict at the largest size, and the
// growth factor between consecutive sizes (linear growth is the size
// factor).
func report(w io.Writer, results []PointResult, cfg pointConfig, args string) {
	fmt.Fprintf(w, "Machine: %d CPUs (%s), %s, %s/%s.\n\n", runtime.NumCPU(), cpuModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "Command: `go run ./bench/scale %s`\n\n", args)
	fmt.Fprintf(w, "%d keep-alive clients, %s per endpoint after a 0.3 s warm-up; %d reconcile passes after a warm-up pass; %d routing changes; health checks every %s per instance, at most %d in flight.\n\n", cfg.Clients, cfg.Duration, cfg.Passes, cfg.Changes, cfg.ProbeInterval, cfg.MaxProbes)

	fmt.Fprintf(w, "| size | apps | hosts | populated through | populate time | API errors | reconcile actions in measured passes | load average at start / end |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		errs := 0
		for _, e := range r.API {
			errs += e.Errors
		}
		fmt.Fprintf(w, "| %d instances | %d | %d | %s | %.1f s | %d | %d | %s / %s |\n", r.Instances, r.Apps, r.Hosts, r.Populate, r.PopulateTime.Seconds(), errs, r.PassActions, r.LoadAvg[0], r.LoadAvg[1])
	}
	fmt.Fprintln(w)

	last := results[len(results)-1]
	fmt.Fprintf(w, "| figure |")
	for _, r := range results {
		fmt.Fprintf(w, " %d |", r.Instances)
	}
	for i := 1; i < len(results); i++ {
		fmt.Fprintf(w, " growth %d→%d (×%d) |", results[i-1].Instances, results[i].Instances, results[i].Instances/results[i-1].Instances)
	}
	fmt.Fprintf(w, " goal at %d | verdict |\n|---|", last.Instances)
	for range len(results)*2 + 1 {
		fmt.Fprintf(w, "---|")
	}
	fmt.Fprintln(w)
	for _, rw := range rows() {
		if rw.skip != nil && rw.skip(last) {
			continue
		}
		fmt.Fprintf(w, "| %s (%s) |", rw.name, rw.unit)
		for _, r := range results {
			fmt.Fprintf(w, " %s |", num(rw.value(r)))
		}
		for i := 1; i < len(results); i++ {
			a, b := rw.value(results[i-1]), rw.value(results[i])
			if a == 0 {
				fmt.Fprintf(w, " – |")
				continue
			}
			size := float64(results[i].Instances) / float64(results[i-1].Instances)
			mark := ""
			if rw.unit != "req/s" && b/a > size*1.1 {
				mark = " **superlinear**"
			}
			fmt.Fprintf(w, " ×%.2f%s |", b/a, mark)
		}
		goal := rw.goal
		if rw.goalOf != nil {
			goal = rw.goalOf(last)
		}
		if goal > 0 {
			verdict := "MET"
			if rw.value(last) > goal {
				verdict = "**MISSED**"
			}
			fmt.Fprintf(w, " ≤ %s %s | %s |\n", num(goal), rw.unit, verdict)
		} else {
			fmt.Fprintf(w, " | |\n")
		}
	}
}
