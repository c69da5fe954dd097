package scheduler

import (
	"context"
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// HostStatus says how each host is, as the reconciler's last pass saw it
// ("ok", or what is wrong), for /healthz. Only a host added since that pass
// is pinged (and only until the next pass, one interval at most), so
// polling /healthz does not call every host every time.
func (r *Reconciler) HostStatus(ctx context.Context) map[string]string {
	hosts, _ := r.s.store.Hosts()
	down := map[string]bool{}
	for _, h := range r.Down() {
		down[h] = true
	}
	failing := r.Failing()
	checked := r.LastPassStarted()
	out := make(map[string]string, len(hosts))
	var mu sync.Mutex // guards out while pings run
	set := func(host, status string) {
		mu.Lock()
		out[host] = status
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for _, h := range hosts {
		since, failed := failing[h.Addr]
		switch {
		case down[h.Addr]:
			set(h.Addr, "down: its Docker API has not answered since "+since.UTC().Format(time.RFC3339))
		case failed:
			set(h.Addr, "not answering since "+since.UTC().Format(time.RFC3339)+"; marked down after --host-grace")
		case checked.IsZero() || h.Added.After(checked):
			wg.Go(func() {
				status := "ok"
				if err := r.s.ping(ctx, h.Addr); err != nil {
					status = cluster.ErrorMessage(err)
				}
				set(h.Addr, status)
			})
		default:
			set(h.Addr, "ok")
		}
	}
	wg.Wait()
	return out
}

// hostMemoryTTL is how long a host's memory reading is used.
const hostMemoryTTL = time.Minute

// hostMemory is what HostMemory read of each host, and when.
type hostMemory struct {
	mu    sync.Mutex // guards known
	known map[string]memoryReading
}

type memoryReading struct {
	bytes int64
	at    time.Time
}

// HostMemory returns the total memory of the hosts that answered, in
// bytes, for GET /overview; a host that does not answer is left out. A
// host is asked at most once a minute: the dashboard refreshes the
// overview at every burst of events, and a host's memory does not change
// that often.
func (s *Scheduler) HostMemory(ctx context.Context) map[string]int64 {
	hosts, _ := s.store.Hosts()
	out := make(map[string]int64, len(hosts))
	var wg sync.WaitGroup
	var mu sync.Mutex // guards out while hosts are asked
	for _, h := range hosts {
		s.memory.mu.Lock()
		r, ok := s.memory.known[h.Addr]
		s.memory.mu.Unlock()
		if ok && time.Since(r.at) < hostMemoryTTL {
			mu.Lock() // the hosts asked before this one write out meanwhile
			out[h.Addr] = r.bytes
			mu.Unlock()
			continue
		}
		wg.Go(func() {
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			n, err := s.engines.FreeMemory(qctx, h.Addr)
			if err != nil {
				return
			}
			s.memory.mu.Lock()
			if s.memory.known == nil {
				s.memory.known = map[string]memoryReading{}
			}
			s.memory.known[h.Addr] = memoryReading{n, time.Now()}
			s.memory.mu.Unlock()
			mu.Lock()
			out[h.Addr] = n
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}
