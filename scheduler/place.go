package scheduler

import (
	"sort"

	"github.com/longshoreman/longshoreman/cluster"
)

// HostLoad is what placement knows of one candidate host.
type HostLoad struct {
	Addr      string
	Instances int // instances managed by this controller on the host, of every app
	// FreeMemory is the memory, in bytes, not yet reserved by the memory
	// limits of the instances on the host: its total memory (as Docker
	// reports it) less their reservations. In Capacity.Up it is the total;
	// plans subtract the reservations. 0 or less takes no limited instance.
	FreeMemory int64
}

// Place picks a host for each of n new instances of one app. appOnHost
// counts the app's instances that stay on each host. The rules, in order:
// spread the app over distinct hosts (fewest of its instances first), then
// the fewest managed instances of any app, then the most free memory, then
// the lowest address, so placement is deterministic. Each pick counts
// toward the next. It returns nil when there are no hosts.
func Place(n int, hosts []HostLoad, appOnHost map[string]int) []string {
	return PlaceSized(n, 0, hosts, appOnHost)
}

// PlaceSized is Place for instances that each reserve memory bytes: a host
// takes one only while its FreeMemory covers it, so placement never
// commits more memory than a host has, and each pick reserves its share.
// It returns fewer than n hosts when the rest fit nowhere. Instances
// without a limit (memory 0) reserve nothing and fit on every host.
func PlaceSized(n int, memory int64, hosts []HostLoad, appOnHost map[string]int) []string {
	if len(hosts) == 0 || n <= 0 {
		return nil
	}
	loads := append([]HostLoad(nil), hosts...)
	app := map[string]int{}
	for h, c := range appOnHost {
		app[h] = c
	}
	picks := make([]string, 0, n)
	for range n {
		sort.SliceStable(loads, func(i, j int) bool {
			if fi, fj := fits(loads[i], memory), fits(loads[j], memory); fi != fj {
				return fi
			}
			return better(loads[i], loads[j], app)
		})
		if !fits(loads[0], memory) {
			break
		}
		picks = append(picks, loads[0].Addr)
		app[loads[0].Addr]++
		loads[0].Instances++
		loads[0].FreeMemory -= memory
	}
	if len(picks) == 0 {
		return nil
	}
	return picks
}

// fits reports whether h can reserve memory bytes more.
func fits(h HostLoad, memory int64) bool {
	return memory <= 0 || h.FreeMemory >= memory
}

func better(a, b HostLoad, app map[string]int) bool {
	if app[a.Addr] != app[b.Addr] {
		return app[a.Addr] < app[b.Addr]
	}
	if a.Instances != b.Instances {
		return a.Instances < b.Instances
	}
	if a.FreeMemory != b.FreeMemory {
		return a.FreeMemory > b.FreeMemory
	}
	return addrLess(a.Addr, b.Addr)
}

// PickRemovals chooses k of the app's instances to remove when scaling
// down: from the hosts holding most of the app first, then the most loaded
// hosts, then the newest instances, so what stays is spread and settled.
func PickRemovals(k int, insts []cluster.Instance, hostLoad map[string]int) []cluster.Instance {
	app := map[string]int{}
	for _, i := range insts {
		app[i.Host]++
	}
	return pickRemovals(k, insts, app, hostLoad, removalOrder{})
}

// removalOrder is what, besides the hosts' counts, puts an instance first
// for removal.
type removalOrder struct {
	unroutedFirst bool // instances not routed before routed ones
	oldestFirst   bool // the oldest before the newest (else the newest first)
}

// pickRemovals chooses k of insts one at a time: each time the first of
// the rest by order's routing, then the most of the app on its host (app),
// then the most loaded host (load), then order's age, then ID. Each pick
// lowers its host's counts for the next; app and load are not changed.
func pickRemovals(k int, insts []cluster.Instance, app, load map[string]int, order removalOrder) []cluster.Instance {
	left := append([]cluster.Instance(nil), insts...)
	app, load = copyCounts(app), copyCounts(load)
	var out []cluster.Instance
	for ; k > 0 && len(left) > 0; k-- {
		sort.SliceStable(left, func(i, j int) bool {
			a, b := left[i], left[j]
			if order.unroutedFirst && a.Routed != b.Routed {
				return !a.Routed
			}
			if app[a.Host] != app[b.Host] {
				return app[a.Host] > app[b.Host]
			}
			if load[a.Host] != load[b.Host] {
				return load[a.Host] > load[b.Host]
			}
			if !a.Started.Equal(b.Started) {
				return a.Started.Before(b.Started) == order.oldestFirst
			}
			return a.ID < b.ID
		})
		out = append(out, left[0])
		app[left[0].Host]--
		load[left[0].Host]--
		left = left[1:]
	}
	return out
}

// copyCounts returns a copy of m that can be written, also when m is nil.
func copyCounts(m map[string]int) map[string]int {
	c := make(map[string]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
