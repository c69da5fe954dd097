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
	cfg.Create = true
	s1, err := etcd.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2, err := etcd.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()

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

	c := client(t, cfg.Endpoints)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, cfg.Prefix+"/election/", clientv3.WithFirstCreate()...)
	if err != nil || len(resp.Kvs) == 0 {
		t.Fatalf("election keys: %v %v", resp, err)
	}
	if _, err := c.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}

	_, err = s1.CreateApp("y.example.com")
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
