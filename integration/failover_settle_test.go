//go:build integration

package integration

import (
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// settleWatch follows, from a controller that stays up, a deploy cut
// short: when its revision stops deploying, and how long the app goes
// without a routed instance meanwhile. Reads are served by any controller.
type settleWatch struct {
	stop chan struct{}
	done chan struct{}

	mu         sync.Mutex    // guards the fields below
	settled    time.Duration // from the start until the revision left deploying; 0: not yet
	status     string        // what it ended as
	unrouted   time.Duration // the longest stretch seen with no routed instance of the app
	lastRouted int           // routed instances at the last look
}

// watchSettle polls c every 25ms from start until Stop: revision cut of
// app, and the app's routed instances.
func watchSettle(c *Controller, app string, cut float64, start time.Time) *settleWatch {
	w := &settleWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		var since time.Time // the app has had no routed instance since then
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(25 * time.Millisecond):
			}
			if settled, _ := w.Settled(); settled == 0 {
				if status, hist := c.Call("GET", "/"+app+"/history", ""); status == 200 {
					list, _ := hist["history"].([]any)
					for _, h := range list {
						if h := h.(map[string]any); h["revision"] == cut && h["status"] != cluster.StatusDeploying {
							w.mu.Lock()
							w.settled, w.status = time.Since(start), h["status"].(string)
							w.mu.Unlock()
						}
					}
				}
			}
			status, inst := c.Call("GET", "/"+app+"/instances", "")
			if status != 200 {
				continue
			}
			w.mu.Lock()
			w.lastRouted = len(anyStrings(inst["instances"]))
			switch {
			case w.lastRouted > 0:
				since = time.Time{}
			case since.IsZero():
				since = time.Now()
			default:
				w.unrouted = max(w.unrouted, time.Since(since))
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// Settled returns how long after the start the revision was seen to stop
// deploying (0: not yet), and its status then.
func (w *settleWatch) Settled() (time.Duration, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.settled, w.status
}

// Stop ends the watch and returns the longest stretch seen without a
// routed instance.
func (w *settleWatch) Stop() (unrouted time.Duration) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.unrouted
}
