package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/longshoreman/longshoreman/cluster"
)

// Batch is one step of a rolling replacement: Start new instances, health-
// check and route them, then retire Retire of the old ones.
type Batch struct {
	Start  int
	Retire int
}

// PlanBatches splits the replacement of old running instances by count
// new ones into batches of at most size new instances each: every batch
// starts its new instances, then retires as many old ones, so the app
// never runs more than old+size instances (count when that is more). Once
// every old instance is replaced, the remaining new ones are started in
// batches of size; the last batch retires every old instance still left
// (the surplus when count is lower). Size 0, or a size that takes every
// new instance at once, gives one batch: everything at once.
func PlanBatches(old, count, size int) []Batch {
	if count <= 0 {
		return []Batch{{Start: 0, Retire: old}}
	}
	if size <= 0 || size >= count {
		return []Batch{{Start: count, Retire: old}}
	}
	var out []Batch
	left := old
	for started := 0; started < count; started += size {
		b := Batch{Start: min(size, count-started)}
		b.Retire = min(b.Start, left)
		if started+b.Start == count {
			b.Retire = left
		}
		left -= b.Retire
		out = append(out, b)
	}
	return out
}

// PlanBatch decides one batch of a rolling replacement by rev: which
// b.Retire of old (the app's instances still to replace) leave (see
// pickRetire), and hosts for b.Start new instances, placed as if those
// had left, so the new ones take their places and the app stays spread.
// The executor starts the new ones before the old ones leave.
func PlanBatch(o Observation, rev *cluster.Revision, old []cluster.Instance, b Batch) Plan {
	p := Plan{App: o.App.Name, Revision: rev, Replace: true}
	perHost := map[string]int{}
	for _, inst := range o.Active() {
		perHost[inst.Host]++
	}
	p.Retire = pickRetire(b.Retire, old, perHost, hostLoad(o.All))
	p.place(b.Start, o.Capacity, p.Retire, nil)
	return p
}

// pickRetire chooses k of old to retire: first the ones not routed (they
// serve nobody), then those on the hosts holding most of the app
// (perHost, which counts the new instances of earlier batches too),
// then on the busiest hosts (load), then the oldest.
func pickRetire(k int, old []cluster.Instance, perHost, load map[string]int) []cluster.Instance {
	return pickRemovals(k, old, perHost, load, removalOrder{unroutedFirst: true, oldestFirst: true})
}

// rollOut replaces the app's running instances (o.Active) with rev.Count
// instances of rev: all at once in one plan, or, when the app's batch size
// (o.App.Batch, set by the deploy when it overrides it) is smaller, batch
// by batch (PlanBatches). When a batch fails, its new instances are
// removed, and the instances the batches before it replaced are put back
// on the old revision (restore), so the app ends as it began.
func (s *Scheduler) rollOut(ctx context.Context, c *change, o Observation, rev *cluster.Revision) ([]cluster.Instance, error) {
	if c.stop == nil {
		st := s.stoppingOf(o.App) // as the deploy began, whatever changes meanwhile
		c.stop = &st
	}
	if rev.StopFirst() {
		return s.rollOutStopFirst(ctx, c, o, rev)
	}
	old := o.Active()
	batches := PlanBatches(len(old), rev.Count, o.App.Batch)
	if len(batches) < 2 {
		p := s.decide(ctx, &o.Capacity, func() Plan { return PlanDeploy(o, rev) })
		return s.run(ctx, c, p)
	}
	var started []cluster.Instance // of rev, routed by the batches done
	retired := 0
	for i, b := range batches {
		c.report(cluster.Progress{Step: "batch", Message: fmt.Sprintf("batch %d/%d: starting %d new, then retiring %d old", i+1, len(batches), b.Start, b.Retire)})
		got, p, err := s.runBatch(ctx, c, o.App, rev, old, b)
		if err != nil {
			return nil, s.restore(ctx, c, o, started, retired, batchFailed(i+1, len(batches), err))
		}
		started = append(started, got...)
		old = without(old, p.Retire)
		retired += len(p.Retire)
	}
	return started, nil
}

// runBatch decides one batch from what runs now and carries it out.
func (s *Scheduler) runBatch(ctx context.Context, c *change, a *cluster.App, rev *cluster.Revision, old []cluster.Instance, b Batch) ([]cluster.Instance, Plan, error) {
	o, err := s.observe(a)
	if err != nil {
		return nil, Plan{}, err
	}
	p := s.decide(ctx, &o.Capacity, func() Plan { return PlanBatch(o, rev, old, b) })
	got, err := s.run(ctx, c, p)
	return got, p, err
}

// restore puts the app back as it was before a rolling replacement whose
// batch failed with cause: as many instances of the old revision as the
// batches before retired are started, in batches of the same size, and
// the new instances (started) retired. It returns cause, saying how the
// app was left.
func (s *Scheduler) restore(ctx context.Context, c *change, o Observation, started []cluster.Instance, retired int, cause error) error {
	if len(started) == 0 {
		return with(cause, "Nothing had been replaced; the old instances keep serving.")
	}
	back := o.Current
	if back == nil {
		retired = 0 // nothing ran before: the new instances just go
	}
	what := fmt.Sprintf("%s Removing the %d new instance(s).", cluster.ErrorMessage(cause), len(started))
	if retired > 0 {
		what = fmt.Sprintf("%s Starting %d instance(s) of revision %d again in place of the %d new one(s).", cluster.ErrorMessage(cause), retired, back.Number, len(started))
	}
	c.report(cluster.Progress{Step: "restoring", Message: what})
	rc := &change{app: c.app, rev: back, progress: c.progress, start: c.start, stop: c.stop}
	left := started
	batches := PlanBatches(len(started), retired, o.App.Batch)
	for i, b := range batches {
		c.report(cluster.Progress{Step: "batch", Message: fmt.Sprintf("restoring batch %d/%d: starting %d old, then retiring %d new", i+1, len(batches), b.Start, b.Retire)})
		_, p, err := s.runBatch(ctx, rc, o.App, back, left, b)
		if err != nil {
			return with(cause, fmt.Sprintf("Putting the old revision back failed too (%s): %d new instance(s) still serve; the reconciler replaces them with the current revision's.", cluster.ErrorMessage(err), len(left)))
		}
		left = without(left, p.Retire)
	}
	if retired == 0 {
		return with(cause, "The new instances were removed.")
	}
	return with(cause, fmt.Sprintf("The instances replaced by the batches before it were put back: the app runs revision %d, as before the deploy.", back.Number))
}

// batchFailed says which batch err ended.
func batchFailed(k, n int, err error) error {
	var e *cluster.Error
	if !errors.As(err, &e) {
		return err // an internal error: its detail goes to the log only
	}
	out := *e
	// Said by the restore instead: what runs depends on how far it got.
	msg := strings.TrimSuffix(e.Message, " The instances that were running are untouched and still serving.")
	out.Message = fmt.Sprintf("Batch %d of %d failed: %s", k, n, msg)
	return &out
}

// with adds a sentence to err's message.
func with(err error, sentence string) error {
	var e *cluster.Error
	if !errors.As(err, &e) {
		return err
	}
	out := *e
	out.Message = e.Message + " " + sentence
	return &out
}

// without returns insts without the ones in gone.
func without(insts, gone []cluster.Instance) []cluster.Instance {
	drop := map[string]bool{}
	for _, g := range gone {
		drop[g.ID] = true
	}
	var out []cluster.Instance
	for _, inst := range insts {
		if !drop[inst.ID] {
			out = append(out, inst)
		}
	}
	return out
}
