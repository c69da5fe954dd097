// Package fakeelection is a fake of the controllers' leader election for
// the fast test tier: the test decides when this process wins and loses
// the leadership, which the real election (package etcd) leaves to leases
// and timing. It satisfies leadership.Election.
package fakeelection

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// Election is one process's view of a fake election. The zero value is
// not usable; call New. It is safe for concurrent use.
type Election struct {
	id, url string
	wins    chan chan struct{} // Win's requests to Run, each closed once lead is called
	changes atomic.Uint64
	leading atomic.Bool

	mu     sync.Mutex    // guards the fields below
	cancel func()        // ends the current leadership's context; nil while following
	ended  chan struct{} // closed once lead returned; nil while following
	number int64         // terms won, for their keys
	leader string        // the URL of the leader as observed; "" for none
	leadID string
}

// New returns an election in which the process id at url does not lead
// until Win.
func New(id, url string) *Election {
	return &Election{id: id, url: url, wins: make(chan chan struct{})}
}

// Run implements leadership.Election: each Win calls lead, with the key
// fake/election/N and revision N of the Nth win, until Lose or ctx ends.
func (e *Election) Run(ctx context.Context, lead func(ctx context.Context, key string, rev int64)) {
	for {
		var won chan struct{}
		select {
		case <-ctx.Done():
			return
		case won = <-e.wins:
		}
		lctx, cancel := context.WithCancel(ctx)
		ended := make(chan struct{})
		e.mu.Lock()
		e.number++
		n := e.number
		e.cancel, e.ended = cancel, ended
		e.leader, e.leadID = e.url, e.id
		e.mu.Unlock()
		e.leading.Store(true)
		e.changes.Add(1)
		close(won)
		lead(lctx, fmt.Sprintf("fake/election/%d", n), n)
		cancel()
		e.leading.Store(false)
		e.changes.Add(1)
		close(ended)
	}
}

// Win makes this process win the leadership: Run calls lead. It returns
// as Run calls lead (what lead sets up may not be in place yet); Run must
// be running, and the process following.
func (e *Election) Win() {
	won := make(chan struct{})
	e.wins <- won
	<-won
}

// Lose makes this process lose the leadership, as a leader whose lease
// ran out does: Leading turns false at once, then the leadership's context
// ends. It returns once lead returned; a process that does not lead is
// left alone.
func (e *Election) Lose() {
	e.mu.Lock()
	cancel, ended := e.cancel, e.ended
	e.cancel, e.ended = nil, nil
	e.leader, e.leadID = "", ""
	e.mu.Unlock()
	if cancel == nil {
		return
	}
	e.leading.Store(false)
	cancel()
	<-ended
}

// Leading implements leadership.Election.
func (e *Election) Leading() bool { return e.leading.Load() }

// Leader implements leadership.Election: this process while it leads.
func (e *Election) Leader() (id, url string, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leadID, e.leader, e.leader != ""
}

// Changes implements leadership.Election.
func (e *Election) Changes() uint64 { return e.changes.Load() }
