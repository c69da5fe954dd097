package scheduler

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/longshoreman/longshoreman/cluster"
)

// Plan is one change to what runs for one app, decided without touching
// anything. Every operation (deploy, rollback, env change, scale, drain,
// rebalance, kill, delete, repair) is a plan, carried out by one executor
// (Scheduler.run) in this order:
//
//  1. what is broken leaves at once: Unroute, Forget, Remove;
//  2. what serves is routed: Adopt, Route;
//  3. Start: new instances of Revision are started on their hosts, all
//     at once, health-checked, then routed together;
//  4. Retire: the instances that go are unrouted, the routers told, the
//     drain delay waited, and they are stopped.
//
// When a plan Replaces, its retirements wait for its starts: if any new
// instance fails, the new ones are removed and nothing is retired.
type Plan struct {
	App      string
	Revision *cluster.Revision // the revision Start runs

	Unroute []cluster.Instance  // routed instances that must leave the table now
	Forget  []cluster.Instance  // records to delete: their container is gone or unreachable
	Remove  []cluster.Container // containers to stop and remove at once: dead, or never routed
	Adopt   []cluster.Container // unknown healthy containers of the current revision, to record and route
	Route   []cluster.Instance  // unrouted instances that are healthy again
	Start   []string            // one host per new instance
	// Unplaced counts new instances no host was found for: either the
	// hosts' capacity was not observed (see Capacity.Up), or no host that
	// answers can take them. The executor fails the start step with it.
	Unplaced int
	// PinnedDown counts the instances of a pinned revision (a repair's)
	// whose hosts do not answer: they stay down until their hosts are
	// back, and do not keep the rest of the plan from running.
	PinnedDown int
	Retire     []cluster.Instance // unrouted, drained and stopped last

	Replace bool // Retire only once Start succeeded: the new replace the old
	Urgent  bool // stop the retired after PublishWait even when the routers could not be told (kill, delete)
	// HostCount is how many hosts the cluster has, for the message when
	// none can take the new instances.
	HostCount int
	// Memory is what each new instance reserves (its revision's limit),
	// and Free each candidate host's memory left unreserved, as placement
	// saw it: the figures of the message when the memory ran out.
	Memory int64
	Free   []HostLoad
}

// Empty reports whether the plan does nothing.
func (p Plan) Empty() bool {
	return len(p.Unroute)+len(p.Forget)+len(p.Remove)+len(p.Adopt)+len(p.Route)+len(p.Start)+len(p.Retire) == 0 && p.Unplaced == 0
}

// Capacity is what placement needs to know of the cluster.
type Capacity struct {
	// Up holds the hosts that answered a ping and are not draining, with
	// their free memory (Instances is not set: plans count it from All).
	// Nil means not observed: the hosts are asked only once a plan has
	// something to start, and the plan is then decided again.
	Up []HostLoad
	// All is every instance record of every app, for each host's load.
	All []cluster.Instance
	// HostCount is how many hosts the cluster has, draining or not.
	HostCount int
}

// Observation is what an operator's operation on one app decides from,
// read under the app's lock before anything is decided.
type Observation struct {
	App      *cluster.App
	Current  *cluster.Revision  // the app's current revision; nil when never deployed or being deleted
	Records  []cluster.Instance // the app's instance records
	Retiring map[string]bool    // instance ids retired in the background, left alone
	Capacity
}

// Active returns the app's records that count: not being retired, and
// not a canary's (see canary.go).
func (o Observation) Active() []cluster.Instance {
	return withoutCanary(o.App, active(o.Records, o.Retiring))
}

// PlanDeploy replaces every active instance of the app with rev.Count new
// instances of rev.
func PlanDeploy(o Observation, rev *cluster.Revision) Plan {
	old := o.Active()
	p := Plan{App: o.App.Name, Revision: rev, Retire: old, Replace: true}
	p.place(rev.Count, o.Capacity, old, nil)
	return p
}

// PlanScale starts instances of the current revision, or retires some
// (see PickRemovals), until the app has count.
func PlanScale(o Observation, count int) Plan {
	insts := o.Active()
	p := Plan{App: o.App.Name, Revision: o.Current, Replace: true}
	switch {
	case count > len(insts):
		p.place(count-len(insts), o.Capacity, nil, nil)
	case count < len(insts):
		p.Retire = PickRemovals(len(insts)-count, insts, hostLoad(o.All))
	}
	return p
}

// PlanDrain moves the app's active instances off host: as many new ones
// on the other hosts, then the ones on host retired. An app being deleted
// gets no replacements: its instances there are stopped.
func PlanDrain(o Observation, host string) Plan {
	var on []cluster.Instance
	for _, inst := range o.Active() {
		if inst.Host == host {
			on = append(on, inst)
		}
	}
	if len(on) == 0 {
		return Plan{App: o.App.Name}
	}
	if o.App.Deleting || o.Current == nil || o.Current.PinnedTo(host) {
		// A pinned app is not moved away from its data: its instances
		// there stop (RemoveHost refuses unless forced).
		return Plan{App: o.App.Name, Retire: on, Urgent: true}
	}
	p := Plan{App: o.App.Name, Revision: o.Current, Retire: on, Replace: true}
	p.place(len(on), o.Capacity, on, map[string]bool{host: true})
	return p
}

// PlanRebalance moves one instance of an app piled on fewer hosts than it
// could use (PickRemovals picks it, from a host holding two or more) to a
// host without any of its instances. The plan is empty when the app is
// spread as far as it can be.
func PlanRebalance(o Observation) Plan {
	none := Plan{App: o.App.Name}
	insts := o.Active()
	if len(insts) < 2 || o.Current == nil || o.Current.Pinned() {
		return none
	}
	perHost := map[string]int{}
	for _, i := range insts {
		perHost[i.Host]++
	}
	if len(perHost) >= min(len(insts), o.HostCount) {
		return none
	}
	victim := PickRemovals(1, insts, hostLoad(o.All))
	if len(victim) == 0 || perHost[victim[0].Host] < 2 {
		return none
	}
	exclude := map[string]bool{}
	for h := range perHost {
		exclude[h] = true
	}
	p := Plan{App: o.App.Name, Revision: o.Current, Retire: victim, Replace: true}
	p.place(1, o.Capacity, victim, exclude)
	return p
}

// place picks hosts for n new instances of p.App among c.Up, leaving out
// exclude; the load of each host counts every record but those leaving.
// Memory is reserved by every record, those leaving included (they run
// until the new instances replace them), except those the plan forgets:
// their container is gone or removed first. What cannot be placed is
// counted in p.Unplaced.
func (p *Plan) place(n int, c Capacity, leaving []cluster.Instance, exclude map[string]bool) {
	p.HostCount = c.HostCount
	if n <= 0 {
		return
	}
	if p.Revision != nil {
		p.Memory = int64(p.Revision.Memory)
	}
	gone, forgotten := map[string]bool{}, map[string]bool{}
	for _, inst := range leaving {
		gone[inst.ID] = true
	}
	for _, inst := range p.Forget {
		forgotten[inst.ID] = true
	}
	load, appOnHost, reserved := map[string]int{}, map[string]int{}, map[string]int64{}
	for _, inst := range c.All {
		if !forgotten[inst.ID] {
			reserved[inst.Host] += int64(inst.Memory)
		}
		if gone[inst.ID] {
			continue
		}
		load[inst.Host]++
		if inst.App == p.App {
			appOnHost[inst.Host]++
		}
	}
	// A pinned revision runs on its hosts only; one with volumes, once
	// per host (a local volume has one writer).
	pinned, onePerHost := p.Revision.Pinned(), p.Revision.StopFirst()
	var candidates []HostLoad
	for _, h := range c.Up {
		if exclude[h.Addr] || pinned && !p.Revision.PinnedTo(h.Addr) || onePerHost && appOnHost[h.Addr] > 0 {
			continue
		}
		candidates = append(candidates, HostLoad{Addr: h.Addr, Instances: load[h.Addr], FreeMemory: h.FreeMemory - reserved[h.Addr]})
	}
	if onePerHost {
		p.Start = unique(PlaceSized(min(n, len(candidates)), p.Memory, candidates, appOnHost))
	} else {
		p.Start = PlaceSized(n, p.Memory, candidates, appOnHost)
	}
	p.Unplaced = n - len(p.Start)
	if p.Unplaced > 0 && p.Memory > 0 {
		p.Free = candidates
	}
}

// noHost is the error of a plan with instances no host could take.
func (p Plan) noHost() error {
	if p.HostCount == 0 {
		return cluster.Errorf(cluster.EUNAVAILABLE, "No hosts to run %s on", p.App).WithFix("add one with", cluster.OpAddHost)
	}
	if p.Revision.Pinned() && len(p.Free) == 0 {
		return cluster.Errorf(cluster.EUNAVAILABLE, "%s is pinned to %s, where %d of its instances found no host: a pinned host does not answer, is draining, or still runs one of its instances (an app with volumes runs one per host)",
			p.App, strings.Join(p.Revision.Hosts, ", "), p.Unplaced).WithFix("see what each host says with", cluster.OpStatus)
	}
	if len(p.Free) > 0 {
		return cluster.Errorf(cluster.EUNAVAILABLE, "%s", p.memoryShortage()).WithFix("lower its memory limit, scale other apps down, or add a host with", cluster.OpAddHost)
	}
	return cluster.Errorf(cluster.EUNAVAILABLE, "No host can take %s: none of the %d hosts' Docker APIs answered", p.App, p.HostCount).WithFix("see what each host says with", cluster.OpStatus)
}

// memoryShortage says how much memory the plan's new instances need and
// what each host that answered has left unreserved.
func (p Plan) memoryShortage() string {
	free := make([]string, len(p.Free))
	for i, h := range p.Free {
		free[i] = h.Addr + " " + approxBytes(h.FreeMemory)
	}
	return fmt.Sprintf("Not enough memory for %s: it needs %s per instance x%d and %d fit on no host; free memory (not reserved by the limits of the instances there): %s",
		p.App, approxBytes(p.Memory), len(p.Start)+p.Unplaced, p.Unplaced, strings.Join(free, ", "))
}

// approxBytes writes a size with Docker's units to one decimal ("23.5g",
// "200m"); 0 or less is "0".
func approxBytes(b int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
		if b >= u.size {
			s := strconv.FormatFloat(float64(b)/float64(u.size), 'f', 1, 64)
			return strings.TrimSuffix(s, ".0") + u.suffix
		}
	}
	return strconv.FormatInt(max(b, 0), 10)
}

// active drops the instances being retired: marked so in the data file,
// or in retiring (retired in the background by this controller).
func active(insts []cluster.Instance, retiring map[string]bool) []cluster.Instance {
	out := insts[:0:0]
	for _, i := range insts {
		if !retiring[i.ID] && !i.Retiring {
			out = append(out, i)
		}
	}
	return out
}

// hostLoad counts instance records per host.
func hostLoad(all []cluster.Instance) map[string]int {
	load := map[string]int{}
	for _, inst := range all {
		load[inst.Host]++
	}
	return load
}
