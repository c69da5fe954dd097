package leadership_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
)

// TestRolloutOfAnEndedTermChangesNothing: a deploy detached from its
// request waits on its new instances' health checks when its controller
// loses the leadership and wins it again. The instances then turn healthy:
// the deploy, of the ended term, writes nothing and calls Docker for
// nothing under the new one; it stops, and the leader's reconciler, in the
// new term, settles its revision and removes what it started.
func TestRolloutOfAnEndedTermChangesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	c := w.controller(t, nil)
	c.win(t)
	app := w.app(t, "ended-term.example.com")
	c.mustDeploy(t, app, image1, 2)

	deployed := c.deployInBackground(app, slowImage)
	started := w.waitInstances(t, app, 2, 2, false)
	stored, calls := w.records(t), mutating(w.engines.Calls())

	c.election.Lose()
	term := c.win(t)
	for _, inst := range started {
		if err := w.engines.SetStatus(inst.ID, http.StatusOK); err != nil {
			t.Fatal(err)
		}
	}
	err := waitErr(t, deployed, "the deploy of the ended term")
	if cluster.ErrorCode(err) != cluster.EUNAVAILABLE || !strings.Contains(cluster.ErrorMessage(err), "term 1") {
		t.Fatalf("the deploy of the ended term: %v, want EUNAVAILABLE naming term 1", err)
	}
	if now := w.records(t); now != stored {
		t.Fatalf("the deploy of the ended term wrote to the store:\n%s\nwas\n%s", now, stored)
	}
	if now := mutating(w.engines.Calls()); fmt.Sprint(now) != fmt.Sprint(calls) {
		t.Fatalf("the deploy of the ended term called Docker: %v, were %v", now, calls)
	}
	if rev := w.revision(t, app, 2); rev.Status != cluster.StatusDeploying {
		t.Fatalf("revision 2 of the ended term: %s", rev.Status)
	}

	c.rec.Pass(term)
	rev := w.revision(t, app, 2)
	current, routed, containers := w.state(t, app)
	if rev.Status != cluster.StatusFailed || !strings.HasPrefix(rev.Reason, "Interrupted") ||
		current != 1 || fmt.Sprint(routed) != "[1 1]" || fmt.Sprint(containers) != "[1 1]" {
		t.Fatalf("after the new term's pass: revision 2 %s (%s); current %d, routed %v, containers %v", rev.Status, rev.Reason, current, routed, containers)
	}
}
