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
	cfg.Create = true
	s, err := etcd.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
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

	c := client(t, cfg.Endpoints)
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	resp, err := c.Get(rctx, first.key)
	if err != nil || len(resp.Kvs) == 0 {
		t.Fatalf("the election key: %v %v", resp, err)
	}
	if _, err := c.Revoke(rctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	second := next("the second term")
	if second.key == first.key || second.rev == first.rev || first.ctx.Err() == nil {
		t.Fatalf("the second term: key %s rev %d, the first's %s %d (ended: %v)", second.key, second.rev, first.key, first.rev, first.ctx.Err())
	}

	_, err = old.CreateApp("b.example.com")
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
