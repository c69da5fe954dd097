package scheduler

import (
	"context"
	"sync"
	"time"
)

// imageDiskTTL is how long a host's reading of its images' disk use is
// used: Docker computes it afresh at every call.
const imageDiskTTL = time.Minute

// imageDisk is what ImageDisk read of each host, and when.
type imageDisk struct {
	mu      sync.Mutex // guards the fields below
	known   map[string]diskReading
	reading map[string]bool // hosts being asked now
	pruned  map[string]int  // by host: prunings since the start, so a read begun before one is not kept as fresh
}

type diskReading struct {
	bytes int64
	at    time.Time
}

// stale returns host's last reading and whether it should be read again
// (it is old or missing, and nobody is reading it); when so, the caller
// reads it and calls done with gen.
func (d *imageDisk) stale(host string) (n int64, read bool, gen int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.known[host]
	if (ok && time.Since(r.at) < imageDiskTTL) || d.reading[host] {
		return r.bytes, false, 0
	}
	if d.reading == nil {
		d.reading = map[string]bool{}
	}
	d.reading[host] = true
	return r.bytes, true, d.pruned[host]
}

// done ends a read of host begun at gen, recording n when ok; a reading
// that a pruning may have changed since it began stays stale.
func (d *imageDisk) done(host string, n int64, ok bool, gen int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.reading, host)
	if !ok {
		return
	}
	if d.known == nil {
		d.known = map[string]diskReading{}
	}
	r := diskReading{bytes: n}
	if d.pruned[host] == gen {
		r.at = time.Now()
	}
	d.known[host] = r
}

// forget makes host's reading stale, after pruning changed it.
func (d *imageDisk) forget(host string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pruned == nil {
		d.pruned = map[string]int{}
	}
	d.pruned[host]++
	if r, ok := d.known[host]; ok {
		d.known[host] = diskReading{bytes: r.bytes}
	}
}

// ImageDisk returns the bytes the images take on each host, as last read,
// for GET /overview; a host not read yet is left out. It never waits for a
// host: Docker computes the figure afresh at each call, which may take
// seconds on a host with many containers, so a reading older than a minute
// (or taken before image pruning) is refreshed in the background, and the
// next call returns it.
func (s *Scheduler) ImageDisk(ctx context.Context) map[string]int64 {
	hosts, _ := s.store.Hosts()
	out := make(map[string]int64, len(hosts))
	for _, h := range hosts {
		n, read, gen := s.disk.stale(h.Addr)
		if n > 0 {
			out[h.Addr] = n
		}
		if !read {
			continue
		}
		// Not counted in s.background: API requests may still call this
		// while Close waits, and the read ends with s.closing anyway.
		go func() {
			qctx, cancel := context.WithTimeout(s.closing, 30*time.Second)
			defer cancel()
			n, err := s.engines.ImageDiskUse(qctx, h.Addr)
			s.disk.done(h.Addr, n, err == nil, gen)
		}()
	}
	return out
}
