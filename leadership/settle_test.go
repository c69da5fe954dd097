package leadership_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
)

// interruptDeploy has controller c, which leads, deploy revision 2 of app
// (running revision 1, two instances) and lose the leadership in the
// middle: with routed false, once the new instances are started and wait
// on their health checks; with routed true, once they are routed and the
// old ones are being retired, before the deploy recorded its outcome. It
// returns once the deploy stopped, its revision left deploying, as a
// leader killed at that moment leaves it.
func interruptDeploy(t *testing.T, w *world, c *controller, stop *gate, app string, routed bool) {
	t.Helper()
	image := slowImage
	if routed {
		image = image2
	}
	deployed := c.deployInBackground(app, image)
	if routed {
		stop.wait(t, "the retirement of the old instances")
	} else {
		w.waitInstances(t, app, 2, 2, false)
	}
	c.election.Lose()
	if err := waitErr(t, deployed, "the interrupted deploy"); cluster.ErrorCode(err) != cluster.EUNAVAILABLE {
		t.Fatalf("the interrupted deploy: %v", err)
	}
	if rev := w.revision(t, app, 2); rev.Status != cluster.StatusDeploying {
		t.Fatalf("the interrupted revision: %s", rev.Status)
	}
}

// TestNewLeaderSettlesBeforeItsFirstOperation: a leader is lost in the
// middle of a deploy, and the first thing the next leader does for the app
// is an operator's operation (a client retrying its write as soon as a
// leader answers), before its reconciler's first pass. The interrupted
// deploy is settled as the operation begins: not left deploying for as
// long as the operation runs (the reconciler cannot take the app meanwhile,
// so it waited past twice the lease), nor overridden by an operation
// decided from the app as it was before the deploy (whose instances, once
// routed, make the deploy succeeded).
func TestNewLeaderSettlesBeforeItsFirstOperation(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		routed bool   // the interrupted deploy's instances were routed
		status string // how it is settled
		image  string // what the app runs after the operation
	}{
		{"instances started, not routed", false, cluster.StatusFailed, image1},
		{"instances routed, the old ones retiring", true, cluster.StatusSucceeded, image2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			stop := newGate()
			old := w.controller(t, &gatedEngines{Engines: w.engines, stop: stop})
			old.win(t)
			app := w.app(t, "first-operation.example.com")
			old.mustDeploy(t, app, image1, 2)
			interruptDeploy(t, w, old, stop, app, tt.routed)

			pull := newGate()
			next := w.controller(t, &gatedEngines{Engines: w.engines, pull: pull})
			term := next.win(t)
			changed := make(chan error, 1)
			go func() {
				_, err := next.sched.SetEnv(context.Background(), app, "ROUND", "2", nil)
				changed <- err
			}()
			pull.wait(t, "the env change's pull")
			if rev := w.revision(t, app, 2); rev.Status != tt.status {
				t.Fatalf("while the new leader's first operation runs, the interrupted revision is %s, want %s", rev.Status, tt.status)
			}
			close(pull.open)
			if err := waitErr(t, changed, "the env change"); err != nil {
				t.Fatal(err)
			}
			next.rec.Pass(term)
			a, _ := w.db.App(app)
			current, routed, _ := w.state(t, app)
			if a.Image != tt.image || current != 3 || fmt.Sprint(routed) != "[3 3]" {
				t.Fatalf("after the env change: image %s (want %s), current %d, routed %v", a.Image, tt.image, current, routed)
			}
			// Retirements the lost deploy began are resumed in the background.
			waitUntil(t, "only the env change's instances to run", func() bool {
				_, _, containers := w.state(t, app)
				return fmt.Sprint(containers) == "[3 3]"
			})
		})
	}
}

// TestRepairSettlesTheInterruptedDeployFirst: a deploy whose instances
// were routed holds its app past the end of its term (a Docker call that
// hangs); the controller leads again, and its reconciler's pass finds the
// app busy, then free by the time it plans the repairs. The revision is
// settled before the app's repair is planned: planned from the revision
// before it, the repair would retire the routed instances of a deploy that
// succeeded and start the old revision again.
func TestRepairSettlesTheInterruptedDeployFirst(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	stop, list := newGate(), newGate()
	stop.ignoreCtx, stop.fail = true, errors.New("the daemon did not answer")
	c := w.controller(t, &gatedEngines{Engines: w.engines, stop: stop, list: list})
	c.win(t)
	app := w.app(t, "held-app.example.com")
	c.mustDeploy(t, app, image1, 2)
	deployed := c.deployInBackground(app, image2)
	stop.wait(t, "the retirement of the old instances")

	c.election.Lose()
	term := c.win(t)
	passed := make(chan struct{})
	go func() {
		defer close(passed)
		c.rec.Pass(term)
	}()
	list.wait(t, "the pass's look at the hosts")
	// The deploy of the ended term lets go of the app now, between the
	// pass's settling and its repairs.
	close(stop.open)
	if err := waitErr(t, deployed, "the deploy of the ended term"); cluster.ErrorCode(err) != cluster.EUNAVAILABLE {
		t.Fatalf("the deploy of the ended term: %v", err)
	}
	waitUntil(t, "the app to be free", func() bool { return !c.sched.Busy(app) })
	close(list.open)
	<-passed

	rev := w.revision(t, app, 2)
	a, _ := w.db.App(app)
	_, routed, _ := w.state(t, app)
	if rev.Status != cluster.StatusSucceeded || a.Revision != 2 || fmt.Sprint(routed) != "[2 2]" {
		t.Fatalf("after the pass: revision 2 %s (%s), current %d, routed %v", rev.Status, rev.Reason, a.Revision, routed)
	}
	// The old instances, whose retirement the lost deploy began, go.
	waitUntil(t, "the old instances to be stopped", func() bool {
		_, _, containers := w.state(t, app)
		return fmt.Sprint(containers) == "[2 2]"
	})
	if strings.Contains(rev.Reason, "Interrupted") {
		t.Fatalf("revision 2 reason: %s", rev.Reason)
	}
}
