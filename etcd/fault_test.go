//go:build integration

package etcd_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/etcd"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/storetest"
)

// TestQuorumLoss kills etcd members under an open store: with one of three
// gone every write succeeds; with two gone writes and reads fail with
// EUNAVAILABLE naming etcd, within the call timeout; when a member returns
// the same store writes again, and nothing written before was lost.
func TestQuorumLoss(t *testing.T) {
	c := testenv.StartEtcd(t)
	s, err := etcd.Open(etcd.Config{Endpoints: c.Endpoints, Prefix: "/longshoreman", Create: true, Timeout: 3 * time.Second, SecretsKey: storetest.SecretsKey})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateApp("a.example.com"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutInstance(cluster.Instance{ID: "c1", App: "a.example.com", Host: "10.0.0.1", Port: 1, Routed: true}); err != nil {
		t.Fatal(err)
	}

	c.Kill(0)
	for i := range 20 {
		if _, err := s.CreateApp(fmt.Sprintf("one-down-%d.example.com", i)); err != nil {
			t.Fatalf("write %d with one of three members down: %v", i, err)
		}
	}

	c.Kill(1)
	start := time.Now()
	_, err = s.CreateApp("no-quorum.example.com")
	if cluster.ErrorCode(err) != cluster.EUNAVAILABLE || !strings.Contains(cluster.ErrorMessage(err), "etcd") || !strings.Contains(cluster.ErrorMessage(err), "majority") {
		t.Fatalf("write without quorum: %v, want EUNAVAILABLE naming etcd", err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("the write without quorum took %s to fail", took)
	}
	if _, err := s.App("a.example.com"); cluster.ErrorCode(err) != cluster.EUNAVAILABLE {
		t.Fatalf("read without quorum: %v, want EUNAVAILABLE", err)
	}
	if err := s.Check(); err == nil {
		t.Fatal("Check without quorum succeeded")
	}

	c.Start(1)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := s.CreateApp("back.example.com")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write succeeded within 30s of quorum's return: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	apps, err := s.Apps()
	if err != nil || !strings.Contains(strings.Join(apps, " "), "one-down-19.example.com") || len(apps) < 22 {
		t.Fatalf("apps after quorum returned: %v, %v", apps, err)
	}
	insts, err := s.AllInstances()
	if err != nil || len(insts) != 1 || !insts[0].Routed {
		t.Fatalf("instances after quorum returned: %+v, %v", insts, err)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}
