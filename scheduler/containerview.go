package scheduler

import (
	"hash/fnv"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// relistEvery is how many passes apart each host is listed in full while
// its event stream is open: a safety net against an event Docker never
// sent. Hosts are staggered over the passes, so one pass lists about
// 1/relistEvery of them.
const relistEvery = 12

// endedKeep is how long a death or removal an event reported is applied
// again on top of each full list of its host. Docker sends a container's
// die event before the state its list reads is updated, so a list asked
// for just after the event may still show the container running; without
// this, the list would bring a dead instance back to life in the view,
// and no later event would correct it.
const endedKeep = 10 * time.Second

// containerViews holds each host's containers as its Docker event stream
// reports them, so a reconcile pass reads memory instead of listing (and
// decoding) every host's containers. A view is live, and trusted by the
// pass, only while its stream is open and after a full list taken since
// the stream opened: events that arrived before, or during a stream gap,
// are covered by that list. A view that is not live is listed by the next
// pass, as every host was before. It is safe for concurrent use.
type containerViews struct {
	mu    sync.Mutex // guards hosts and every containerView in it
	hosts map[string]*containerView
	now   func() time.Time // the clock of endedKeep
}

type containerView struct {
	containers map[string]cluster.Container
	streaming  bool   // the host's event stream is open
	generation uint64 // bumped when the stream opens or closes, or an event could not be applied
	live       bool   // listed during the current generation and streaming
	listing    bool   // a list is in flight: updates are kept in pending
	listGen    uint64 // the generation the list in flight began in
	pending    []viewUpdate
	// ended holds the deaths and removals applied within endedKeep, by
	// container id (see endedKeep); a later start of the container drops
	// its entry.
	ended map[string]endedUpdate
}

// endedUpdate is a death or removal, with when it was applied.
type endedUpdate struct {
	u  viewUpdate
	at time.Time
}

// viewUpdate is one event's effect on a view: the container as inspected
// after the event, its death, or its removal.
type viewUpdate struct {
	ID   string
	Gone bool              // destroyed, or no longer found
	Dead bool              // died: not running, no port
	Ct   cluster.Container // the container as inspected, when neither
}

func newContainerViews() *containerViews {
	return &containerViews{hosts: map[string]*containerView{}, now: time.Now}
}

// get returns host's view, creating it; v.mu held.
func (v *containerViews) get(host string) *containerView {
	hv := v.hosts[host]
	if hv == nil {
		hv = &containerView{containers: map[string]cluster.Container{}, ended: map[string]endedUpdate{}}
		v.hosts[host] = hv
	}
	return hv
}

// streamOpened records that host's event stream (re)opened: the view is
// stale until the next full list.
func (v *containerViews) streamOpened(host string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	hv := v.get(host)
	hv.streaming, hv.live = true, false
	hv.generation++
}

// streamClosed records that host's event stream ended: events may be
// missed from now on, so the view is stale until the stream reopens and
// the host is listed again.
func (v *containerViews) streamClosed(host string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	hv := v.get(host)
	hv.streaming, hv.live = false, false
	hv.generation++
}

// stale marks host's view as needing a full list, e.g. when an event's
// container could not be inspected.
func (v *containerViews) stale(host string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	hv := v.get(host)
	hv.live = false
	hv.generation++
}

// apply applies one event's update to host's view. While a list is in
// flight the update is also kept, to be applied again on top of the list,
// which may have been taken before the event.
func (v *containerViews) apply(host string, u viewUpdate) {
	v.mu.Lock()
	defer v.mu.Unlock()
	hv := v.get(host)
	if hv.listing {
		hv.pending = append(hv.pending, u)
	}
	if u.Dead || u.Gone {
		hv.ended[u.ID] = endedUpdate{u, v.now()}
	} else {
		delete(hv.ended, u.ID)
	}
	if !hv.applyLocked(u) && !hv.listing {
		// A death of a container the view never saw: its start was missed.
		// (During a list, the list or a pending update may hold it.)
		hv.live = false
		hv.generation++
	}
}

// applyLocked applies u and reports whether it could; v.mu held.
func (hv *containerView) applyLocked(u viewUpdate) bool {
	switch {
	case u.Gone:
		delete(hv.containers, u.ID)
	case u.Dead:
		ct, ok := hv.containers[u.ID]
		if !ok {
			return false
		}
		ct.Running, ct.Port, ct.State = false, 0, "exited"
		hv.containers[u.ID] = ct
	default:
		hv.containers[u.ID] = u.Ct
	}
	return true
}

// beginList records that a full list of host starts now.
func (v *containerViews) beginList(host string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	hv := v.get(host)
	hv.listing, hv.listGen, hv.pending = true, hv.generation, nil
}

// endList replaces host's view with list (when err is nil), applies on top
// the deaths and removals of the last endedKeep and the updates that
// arrived while it was taken, makes the view live when the stream stayed
// open throughout, and returns the view's containers: what a pass must
// judge, rather than the list.
func (v *containerViews) endList(host string, list []cluster.Container, err error) []cluster.Container {
	v.mu.Lock()
	defer v.mu.Unlock()
	hv := v.get(host)
	pending := hv.pending
	hv.listing, hv.pending = false, nil
	if err != nil {
		hv.live = false
		return nil
	}
	hv.containers = make(map[string]cluster.Container, len(list))
	for _, ct := range list {
		hv.containers[ct.ID] = ct
	}
	now := v.now()
	for id, e := range hv.ended {
		if now.Sub(e.at) > endedKeep {
			delete(hv.ended, id)
			continue
		}
		hv.applyLocked(e.u) // the list may have been read before Docker's own state caught up
	}
	for _, u := range pending {
		hv.applyLocked(u) // a death the list does not hold: it is gone already
	}
	hv.live = hv.streaming && hv.generation == hv.listGen
	return slices.Collect(maps.Values(hv.containers))
}

// snapshot returns host's containers, in no particular order (as List),
// and whether the view is live.
func (v *containerViews) snapshot(host string) ([]cluster.Container, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	hv := v.hosts[host]
	if hv == nil || !hv.live {
		return nil, false
	}
	out := make([]cluster.Container, 0, len(hv.containers))
	for _, ct := range hv.containers {
		out = append(out, ct)
	}
	return out, true
}

// relistDue reports whether pass number pass lists host even when its view
// is live: each host once every relistEvery passes, hosts spread evenly.
func relistDue(host string, pass uint64) bool {
	h := fnv.New32a()
	_, _ = h.Write([]byte(host))
	return (pass+uint64(h.Sum32()))%relistEvery == 0
}
