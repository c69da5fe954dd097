//go:build integration

package etcd_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/etcd"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// term records one process's leaderships: a value on gained when one
// starts, on lost when its context ends.
type term struct{ gained, lost chan struct{} }

func campaign(t *testing.T, s *etcd.Store, id string) (*etcd.Election, term) {
	t.Helper()
	tm := term{gained: make(chan struct{}, 10), lost: make(chan struct{}, 10)}
	e := s.NewElection(etcd.ElectionConfig{ID: id, URL: "http://" + id + ".example:3000", TTL: 2 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.Run(ctx, func(lctx context.Context, _ string, _ int64) {
			tm.gained <- struct{}{}
			<-lctx.Done()
			tm.lost <- struct{}{}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return e, tm
}

// mustOpen opens the store of cfg with create, closed when the test ends.
func mustOpen(t *testing.T, cfg etcd.Config) *etcd.Store {
	t.Helper()
	cfg.Create = true
	s, err := etcd.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// revokeLease revokes the lease of the first election key that key and
// opts read, as etcd does when a paused leader stops renewing it.
func revokeLease(t *testing.T, cfg etcd.Config, key string, opts ...clientv3.OpOption) {
	t.Helper()
	c := client(t, cfg.Endpoints)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, key, opts...)
	if err != nil || len(resp.Kvs) == 0 {
		t.Fatalf("election keys at %s: %v %v", key, resp, err)
	}
	if _, err := c.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
}

func wait(t *testing.T, c chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting until %s", what)
	}
}

// TestElectionFencesALostLeader: of two stores on one prefix one leads and
// raised the epoch; once its lease is gone (revoked here, as etcd does when
// a paused leader stops renewing it) its loops are told to stop, none of
// its writes land, and the other leads with a higher epoch.
func TestElectionFencesALostLeader(t *testing.T) {
	cfg := NewConfig(t)
	s1, s2 := mustOpen(t, cfg), mustOpen(t, cfg)

	before := s1.Epoch()
	e1, t1 := campaign(t, s1, "a")
	wait(t, t1.gained, "a leads")
	if !e1.Leading() || s1.Epoch() <= before {
		t.Fatalf("a leads: Leading %v, epoch %d (was %d)", e1.Leading(), s1.Epoch(), before)
	}
	if _, err := s1.CreateApp("x.example.com"); err != nil {
		t.Fatal(err)
	}
	e2, t2 := campaign(t, s2, "b")
	deadline := time.Now().Add(30 * time.Second)
	for id, _, _ := e2.Leader(); id != "a"; id, _, _ = e2.Leader() {
		if time.Now().After(deadline) {
			t.Fatalf("b never learned that a leads: %q", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if e2.Leading() {
		t.Fatal("two leaders")
	}

	revokeLease(t, cfg, cfg.Prefix+"/election/", clientv3.WithFirstCreate()...)

	_, err := s1.CreateApp("y.example.com")
	if cluster.ErrorCode(err) != cluster.EUNAVAILABLE || !strings.Contains(cluster.ErrorMessage(err), "no longer leads") {
		t.Fatalf("write of the lost leader: %v", err)
	}
	wait(t, t1.lost, "a learns it lost")
	wait(t, t2.gained, "b leads")
	if e1.Leading() || !e2.Leading() || s2.Epoch() <= s1.Epoch() {
		t.Fatalf("after the loss: a leading %v, b leading %v, epochs %d then %d", e1.Leading(), e2.Leading(), s1.Epoch(), s2.Epoch())
	}
	if _, err := s2.CreateApp("z.example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := s1.CreateApp("w.example.com"); err == nil {
		t.Fatal("a follower that once led still writes unfenced")
	}
	apps, err := s2.Apps()
	if err != nil || strings.Join(apps, ",") != "x.example.com,z.example.com" {
		t.Fatalf("apps = %v, %v", apps, err)
	}
	for id, _, _ := e1.Leader(); id != "b"; id, _, _ = e1.Leader() {
		if time.Now().After(deadline.Add(30 * time.Second)) {
			t.Fatalf("a never learned that b leads: %q", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// won is one leadership of a process: its context and fence.
type won struct {
	ctx context.Context
	key string
	rev int64
}

// TestTermFenceOutlivesARegain: a process leads, loses its lease and leads
// again with a new election key. A write fenced on the first term's key is
// refused in the second, in the same transaction as the write; the
// store's own fence, the latest gain's, would have let it through (as it
// did for every write before terms had fences of their own).
func TestTermFenceOutlivesARegain(t *testing.T) {
	cfg := NewConfig(t)
	s := mustOpen(t, cfg)
	terms := make(chan won, 10)
	e := s.NewElection(etcd.ElectionConfig{ID: "p", URL: "http://p.example:3000", TTL: 2 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.Run(ctx, func(lctx context.Context, key string, rev int64) {
			terms <- won{lctx, key, rev}
			<-lctx.Done()
		})
	}()
	defer func() { cancel(); <-done }()
	next := func(what string) won {
		t.Helper()
		select {
		case w := <-terms:
			return w
		case <-time.After(30 * time.Second):
			t.Fatalf("timed out waiting for %s", what)
			return won{}
		}
	}

	first := next("the first term")
	old := s.Fenced(first.key, first.rev)
	if _, err := old.CreateApp("a.example.com"); err != nil {
		t.Fatalf("a write of the first term in it: %v", err)
	}

	revokeLease(t, cfg, first.key)
	second := next("the second term")
	if second.key == first.key || second.rev == first.rev || first.ctx.Err() == nil {
		t.Fatalf("the second term: key %s rev %d, the first's %s %d (ended: %v)", second.key, second.rev, first.key, first.rev, first.ctx.Err())
	}

	_, err := old.CreateApp("b.example.com")
	if cluster.ErrorCode(err) != cluster.EUNAVAILABLE || !strings.Contains(cluster.ErrorMessage(err), "leadership term") {
		t.Fatalf("a write of the first term in the second: %v", err)
	}
	if _, err := s.CreateApp("c.example.com"); err != nil {
		t.Fatalf("a write on the store's own fence in the second term: %v", err)
	}
	if _, err := s.Fenced(second.key, second.rev).CreateApp("d.example.com"); err != nil {
		t.Fatalf("a write of the second term: %v", err)
	}
	if err := old.Close(); err != nil {
		t.Fatalf("closing a view: %v", err)
	}
	apps, err := s.Apps()
	if err != nil || strings.Join(apps, ",") != "a.example.com,c.example.com,d.example.com" {
		t.Fatalf("apps = %v, %v", apps, err)
	}
}
