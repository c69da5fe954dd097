package leadership_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/internal/fakeelection"
	"github.com/longshoreman/longshoreman/leadership"
)

// process is one controller process of the fast tier: a leadership on a
// fake election, run until the test ends, whose terms the test receives.
type process struct {
	election *fakeelection.Election
	*leadership.Leadership
	terms chan context.Context // each term's context, as it begins
}

func startProcess(t *testing.T, store *db.DB) *process {
	t.Helper()
	p := &process{election: fakeelection.New("p", "http://p.example"), terms: make(chan context.Context, 10)}
	p.Leadership = leadership.New(leadership.Config{Store: store, Election: p.election, ID: "p"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx, func(tctx context.Context) {
			p.terms <- tctx
			<-tctx.Done()
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return p
}

// win makes p win a term and returns its context.
func (p *process) win(t *testing.T) context.Context {
	t.Helper()
	p.election.Win()
	select {
	case ctx := <-p.terms:
		return ctx
	case <-time.After(10 * time.Second):
		t.Fatal("no term began after a win")
		return nil
	}
}

func openDB(t *testing.T) *db.DB {
	t.Helper()
	d, err := db.Open(filepath.Join(t.TempDir(), "ls.db"), db.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// waitEnded waits until ctx ends: a context bound to a term ends just
// after the term's (context.AfterFunc).
func waitEnded(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not end", what)
	}
}

func wantUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	if cluster.ErrorCode(err) != cluster.EUNAVAILABLE {
		t.Fatalf("%s: %v, want EUNAVAILABLE", what, err)
	}
}

// TestTermsOfOneProcess: each gain is a new term; an operation begun in a
// term is refused, for its writes and its Docker calls, once that term
// ended, also after the process won the leadership again.
func TestTermsOfOneProcess(t *testing.T) {
	t.Parallel()
	store := openDB(t)
	p := startProcess(t, store)
	if p.Leading() {
		t.Fatal("leads before any win")
	}
	if _, _, err := p.Begin(context.Background()); cluster.ErrorCode(err) != cluster.EUNAVAILABLE {
		t.Fatalf("Begin while following: %v", err)
	}

	first := p.win(t)
	term, ok := p.Current()
	if !ok || term.Number != 1 || term.Key == "" {
		t.Fatalf("first term: %+v %v", term, ok)
	}
	op, end, err := p.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer end()
	if _, err := p.Store(op).AddHost("127.0.0.1"); err != nil {
		t.Fatalf("a write in the operation's own term: %v", err)
	}

	p.election.Lose()
	if first.Err() == nil {
		t.Fatal("the term's context outlived the loss")
	}
	waitEnded(t, op, "the operation's context at the end of its term")
	wantUnavailable(t, "a write after the loss", func() error { _, err := p.Store(op).AddHost("127.0.0.2"); return err }())

	p.win(t)
	term2, ok := p.Current()
	if !ok || term2.Number != 2 || term2.Key == term.Key {
		t.Fatalf("second term: %+v %v (first %+v)", term2, ok, term)
	}
	wantUnavailable(t, "a write of the first term in the second", func() error { _, err := p.Store(op).AddHost("127.0.0.2"); return err }())
	if _, _, err := p.Begin(op); cluster.ErrorCode(err) != cluster.EUNAVAILABLE {
		t.Fatalf("Begin of an operation of the first term in the second: %v", err)
	}
	if ok, _ := store.HasHost("127.0.0.2"); ok {
		t.Fatal("a write of the ended term landed")
	}

	op2, end2, err := p.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer end2()
	if _, err := p.Store(op2).AddHost("127.0.0.2"); err != nil {
		t.Fatalf("a write of the second term: %v", err)
	}
	if _, err := p.Store(context.Background()).AddHost("127.0.0.3"); cluster.ErrorCode(err) != cluster.EINTERNAL {
		t.Fatalf("a write outside any operation: %v, want EINTERNAL", err)
	}
}

// TestDataFileLeadsInOneTerm: without an election the process leads from
// New on, in term 1, until Run's context ends.
func TestDataFileLeadsInOneTerm(t *testing.T) {
	t.Parallel()
	l := leadership.New(leadership.Config{Store: openDB(t)})
	term, ok := l.Current()
	if !ok || term.Number != 1 || !l.Leading() {
		t.Fatalf("before Run: %+v %v", term, ok)
	}
	op, end, err := l.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer end()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan context.Context, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(ctx, func(tctx context.Context) {
			ran <- tctx
			<-tctx.Done()
		})
	}()
	tctx := <-ran
	if _, _, err := l.Begin(tctx); err != nil {
		t.Fatalf("Begin in Run's term: %v", err)
	}
	cancel()
	<-done
	if l.Leading() {
		t.Fatal("the term outlived Run's context")
	}
	waitEnded(t, op, "an operation's context at the end of Run")
	if _, _, err := l.Begin(context.Background()); cluster.ErrorCode(err) != cluster.EUNAVAILABLE {
		t.Fatalf("Begin after Run ended: %v", err)
	}
}
