package command

import (
	"context"
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/docker"
)

// hostMemory answers each host's total memory for GET /overview, asking a
// host at most once a minute: the dashboard refreshes the overview at
// every burst of events, and a host's memory does not change that often.
type hostMemory struct {
	db      cluster.Store
	engines *docker.Engines

	mu    sync.Mutex // guards known
	known map[string]memoryReading
}

type memoryReading struct {
	bytes int64
	at    time.Time
}

// hostMemoryTTL is how long a host's memory reading is used.
const hostMemoryTTL = time.Minute

// HostMemory returns the total memory of the hosts that answered, in
// bytes; a host that does not answer is left out.
func (m *hostMemory) HostMemory(ctx context.Context) map[string]int64 {
	hosts, _ := m.db.Hosts()
	out := make(map[string]int64, len(hosts))
	var wg sync.WaitGroup
	var mu sync.Mutex // guards out while hosts are asked
	for _, h := range hosts {
		m.mu.Lock()
		r, ok := m.known[h.Addr]
		m.mu.Unlock()
		if ok && time.Since(r.at) < hostMemoryTTL {
			out[h.Addr] = r.bytes
			continue
		}
		wg.Go(func() {
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			n, err := m.engines.FreeMemory(qctx, h.Addr)
			if err != nil {
				return
			}
			m.mu.Lock()
			if m.known == nil {
				m.known = map[string]memoryReading{}
			}
			m.known[h.Addr] = memoryReading{n, time.Now()}
			m.mu.Unlock()
			mu.Lock()
			out[h.Addr] = n
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}
