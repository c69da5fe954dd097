package scheduler

import (
	"context"

	"github.com/longshoreman/longshoreman/cluster"
)

// Fence binds operations to the leadership term they begin in (package
// leadership implements it). Every operation (an operator's, or the
// reconciler's) begins with Begin and makes each store write through
// Store(ctx) and each Docker call with that ctx, so that once its term
// ends it changes nothing more, even if this controller leads again by
// then: what it left is settled by the leader's reconciler.
type Fence interface {
	// Begin returns ctx bound to a term: the one ctx carries already, or
	// the one this controller leads in now. The context carries the term
	// and ends when the term does; cancel releases it. It fails with
	// EUNAVAILABLE when this controller does not lead or ctx's term ended.
	Begin(ctx context.Context) (bound context.Context, cancel context.CancelFunc, err error)
	// Store returns the store as an operation under ctx writes it: each
	// write fails with EUNAVAILABLE once ctx's term has ended.
	Store(ctx context.Context) Store
}

// begin binds an operation to the leadership term it begins in (see
// Fence); without a Fence (a controller alone on its data file that is not
// fenced, or a test) ctx is returned as it is. end must be called when the
// operation ends.
func (s *Scheduler) begin(ctx context.Context) (bound context.Context, end func(), err error) {
	if s.cfg.Fence == nil {
		return ctx, func() {}, nil
	}
	bound, cancel, err := s.cfg.Fence.Begin(ctx)
	if err != nil {
		return nil, nil, err
	}
	return bound, cancel, nil
}

// interrupted returns, for an operation that failed with err, why ctx ended
// when it did (an operation's context ends with its leadership term, its
// cause saying so), else err: a step that failed because the operation was
// cut short reports that, not its own symptom.
func interrupted(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		if cause := context.Cause(ctx); cause != nil {
			return cause
		}
	}
	return err
}

// fenced returns the store an operation under ctx writes to: the Fence's
// for ctx's term, or without a Fence, the store itself (Audited).
func (s *Scheduler) fenced(ctx context.Context) Store {
	if s.cfg.Fence == nil {
		return Audited(ctx, s.store)
	}
	return s.cfg.Fence.Store(ctx)
}

// Audited returns st as an operation under ctx writes to it: when ctx
// carries an audit entry (cluster.WithAuditWrite), a view of st whose
// first write transaction stores it, else st. A Fence's Store applies it
// to the store it fences.
func Audited(ctx context.Context, st Store) Store {
	w := cluster.AuditWriteOf(ctx)
	if w == nil {
		return st
	}
	if a, ok := st.(interface {
		Audited(*cluster.AuditWrite) cluster.Store
	}); ok {
		return a.Audited(w)
	}
	return st
}
