package cluster

import (
	"context"
	"time"
)

// Waiting for one's turn: an operator's deploy, rollback, scale or env
// change that finds its app held by another operation fails with
// ECONFLICT, unless its request asked to wait ("wait": true, the CLI's
// --wait). It then queues behind that operation (FIFO per app) and runs
// when the ones before it finished, or gives up with ECONFLICT after its
// wait timeout or when its client goes away.

// DefaultWaitTimeout bounds the wait of an operation that asked to wait
// and gave no timeout.
const DefaultWaitTimeout = 10 * time.Minute

// MaxWaitTimeout bounds the wait timeout a request may give.
const MaxWaitTimeout = 6 * time.Hour

// ValidateWaitTimeout checks a wait timeout: from 1s to MaxWaitTimeout.
func ValidateWaitTimeout(d time.Duration) error {
	if d < time.Second || d > MaxWaitTimeout {
		return Errorf(EINVALID, "Wait timeout %s is out of range: give how long to wait for the app's running operation, from 1s to %s (default %s).", d, MaxWaitTimeout, DefaultWaitTimeout)
	}
	return nil
}

// Wait is how an operation waits for its turn.
type Wait struct {
	Timeout time.Duration   // give up after this long
	Done    <-chan struct{} // closed when the client went away: give up then too
}

type waitKey struct{}

// WithWait returns ctx asking the operation it is given to wait for its
// turn for at most timeout (0: DefaultWaitTimeout), or until ctx ends. The
// request survives context.WithoutCancel, which operations apply so that
// they run to their end once begun; ctx's end still ends the wait.
func WithWait(ctx context.Context, timeout time.Duration) context.Context {
	if timeout <= 0 {
		timeout = DefaultWaitTimeout
	}
	return context.WithValue(ctx, waitKey{}, Wait{Timeout: timeout, Done: ctx.Done()})
}

// WaitOf returns how the operation given ctx waits for its turn, and false
// when it does not wait (it fails with ECONFLICT instead).
func WaitOf(ctx context.Context) (Wait, bool) {
	w, ok := ctx.Value(waitKey{}).(Wait)
	return w, ok
}
