package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/scheduler"
)

// ProbeResult is what the reconciler's health checks did at one size.
type ProbeResult struct {
	Interval     time.Duration `json:"interval"`       // between two checks of one instance
	Bound        int           `json:"bound"`          // checks in flight at most
	Targets      int           `json:"targets"`        // instances checked
	PerSecond    float64       `json:"per_second"`     // checks finished per second over one steady interval
	CPUPerSecond time.Duration `json:"cpu_per_second"` // controller CPU per second over that interval, when the checks are all it does
	PeakInFlight int           `json:"peak_in_flight"` // most checks running at once, over the whole phase
	MaxLate      time.Duration `json:"max_late"`       // longest a check started after it was due, until the steady window's end
	// Unrouted is, for each instance switched to fail its check, the time
	// until it left the routing table; Rerouted until it was back after
	// being switched to pass again.
	Unrouted []time.Duration `json:"unrouted"`
	Rerouted []time.Duration `json:"rerouted"`
}

// faults is how many instances are switched to fail their check at once:
// each one's time to leave the table depends on its phase.
const faults = 5

// measureReconcile runs the reconciler as serve does, except that its
// periodic pass is an hour apart so that only its first pass and the
// passes its health checks ask for run: the checks' steady cost; then,
// with the reconciler stopped (its checks' results kept), cfg.Passes
// reconcile passes, wall and CPU time, so the CPU time is the pass's
// alone; then, running again, the time an instance failing its check
// takes to leave the routing table and to come back.
func measureReconcile(cfg pointConfig, sched *scheduler.Scheduler, store *db.DB, setFailing func(string, bool) error, actions *countingHandler, res *PointResult) error {
	interval := cfg.ProbeInterval
	rec := scheduler.NewReconciler(sched, scheduler.ReconcilerConfig{Interval: time.Hour, ProbeInterval: interval, MaxProbes: cfg.MaxProbes})
	run := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); rec.Run(ctx) }()
		return func() { cancel(); <-done }
	}
	stop := run()

	// Run's first pass is the warm-up: it settles interrupted deploys and
	// gives the prober its targets, each checked within one interval.
	if err := waitUntil(3*interval+time.Minute, func() bool {
		st := rec.ProbeStats()
		return st.Targets == cfg.Instances && st.Checked == cfg.Instances
	}); err != nil {
		stop()
		st := rec.ProbeStats()
		return fmt.Errorf("health checks: %d of %d instances tracked, %d checked: %v", st.Targets, cfg.Instances, st.Checked, err)
	}

	stopProfile := startProfile(cfg, "probes")
	s0, cpu0, t0 := rec.ProbeStats(), cpuTime(), time.Now()
	time.Sleep(interval)
	s1, cpu, elapsed := rec.ProbeStats(), cpuTime()-cpu0, time.Since(t0)
	stopProfile()
	res.Probes = ProbeResult{
		Interval: interval, Bound: s1.MaxInFlight, Targets: s1.Targets,
		PerSecond:    float64(s1.Probes-s0.Probes) / elapsed.Seconds(),
		CPUPerSecond: time.Duration(float64(cpu) / elapsed.Seconds()), MaxLate: s1.MaxLate,
	}
	stop()
	if s1.Failed != 0 {
		return fmt.Errorf("health checks: %d of %d failed in a steady cluster", s1.Failed, s1.Probes)
	}
	cfg.logf("health checks: %.0f/s, %s CPU per second, peak %d in flight (bound %d)", res.Probes.PerSecond, ms(res.Probes.CPUPerSecond), s1.PeakInFlight, s1.MaxInFlight)

	before := actions.n.Load()
	var walls, cpus []time.Duration
	stopProfile = startProfile(cfg, "reconcile")
	for range cfg.Passes {
		cpu0 := cpuTime()
		t0 := time.Now()
		rec.Pass(context.Background())
		walls = append(walls, time.Since(t0))
		cpus = append(cpus, cpuTime()-cpu0)
	}
	stopProfile()
	res.PassWall, res.PassCPU = stat(walls), stat(cpus)
	res.PassActions = actions.n.Load() - before
	cfg.logf("reconcile pass: wall %s, cpu %s", res.PassWall, res.PassCPU)

	// Checks due while the reconciler was stopped run late once; the
	// faults are measured from the steady state after them.
	stop = run()
	defer stop()
	time.Sleep(interval)
	if err := measureFaults(interval, store, setFailing, res); err != nil {
		return err
	}
	res.Probes.PeakInFlight = rec.ProbeStats().PeakInFlight
	return nil
}

// measureFaults switches faults routed instances, of different apps, to
// fail their check at once and times each one's leaving the routing table,
// then switches them back and times their return.
func measureFaults(interval time.Duration, store *db.DB, setFailing func(string, bool) error, res *PointResult) error {
	insts, err := store.AllInstances()
	if err != nil {
		return err
	}
	type victim struct{ app, addr string }
	var victims []victim
	for i := range faults {
		inst := insts[(2*i+1)*len(insts)/(2*faults)]
		victims = append(victims, victim{inst.App, inst.Addr()})
	}
	routed := func(v victim) (bool, error) {
		t, err := store.RoutingTable()
		return slices.Contains(t.Routes[v.app], v.addr), err
	}
	// wait polls until every victim's routing is want, recording when each
	// got there.
	wait := func(want bool) ([]time.Duration, error) {
		start := time.Now()
		took := make([]time.Duration, len(victims))
		for left := len(victims); left > 0; {
			if time.Since(start) > 10*interval+time.Minute {
				return nil, fmt.Errorf("%d of %d instances switched to fail did not reach routed=%v within %s", left, len(victims), want, time.Since(start).Round(time.Second))
			}
			time.Sleep(5 * time.Millisecond)
			for i, v := range victims {
				if took[i] != 0 {
					continue
				}
				r, err := routed(v)
				if err != nil {
					return nil, err
				}
				if r == want {
					took[i] = time.Since(start)
					left--
				}
			}
		}
		return took, nil
	}
	for _, v := range victims {
		if err := setFailing(v.addr, true); err != nil {
			return err
		}
	}
	if res.Probes.Unrouted, err = wait(false); err != nil {
		return err
	}
	for _, v := range victims {
		if err := setFailing(v.addr, false); err != nil {
			return err
		}
	}
	res.Probes.Rerouted, err = wait(true)
	return err
}

func waitUntil(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}
