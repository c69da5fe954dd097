//go:build integration

package etcd_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/etcd"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/storetest"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// NewConfig returns the Config of a new prefix on the test etcd cluster,
// whose keys are deleted when the test ends.
func NewConfig(tb testing.TB) etcd.Config {
	tb.Helper()
	endpoints := testenv.Etcd(tb)
	cfg := etcd.Config{
		Endpoints:  endpoints,
		SecretsKey: storetest.SecretsKey,
		Prefix:     fmt.Sprintf("/longshoreman-test/%s-%d", strings.ReplaceAll(tb.Name(), "/", "-"), time.Now().UnixNano()),
		Backup: func(w io.Writer, records func(func(cluster.Record) error) error) (int64, error) {
			return db.WriteRecords(w, "", records)
		},
	}
	tb.Cleanup(func() {
		c := client(tb, endpoints)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := c.Delete(ctx, cfg.Prefix+"/", clientv3.WithPrefix()); err != nil {
			tb.Errorf("deleting the test prefix %s: %v", cfg.Prefix, err)
		}
	})
	return cfg
}

func client(tb testing.TB, endpoints []string) *clientv3.Client {
	tb.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 10 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// Opener opens the store of cfg.
func Opener(cfg etcd.Config) storetest.Opener {
	return func(create bool) (cluster.Store, error) {
		c := cfg
		c.Create = create
		s, err := etcd.Open(c)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}

// TestConformance holds the etcd store to the behaviour every store shares.
func TestConformance(t *testing.T) {
	testenv.Etcd(t)
	storetest.RunConformance(t, func(t *testing.T) storetest.Opener { return Opener(NewConfig(t)) })
}

// TestEnvKeyConformance holds the etcd store to the encryption of env
// values every store shares.
func TestEnvKeyConformance(t *testing.T) {
	testenv.Etcd(t)
	storetest.RunEnvKeyConformance(t, func(t *testing.T) storetest.KeyedOpener {
		cfg := NewConfig(t)
		return func(key string) (cluster.Store, error) {
			c := cfg
			c.SecretsKey = key
			return Opener(c)(true)
		}
	})
}

// TestCompactionRemovesOldRevisions: after Compact, reads at revisions
// older than the kept window fail as compacted, and the store reads and
// writes on.
func TestCompactionRemovesOldRevisions(t *testing.T) {
	cfg := NewConfig(t)
	cfg.CompactKeep = 5
	cfg.CompactInterval = 200 * time.Millisecond
	s := storetest.MustOpen(t, Opener(cfg))
	s.CreateApp("a.example.com")
	c := client(t, cfg.Endpoints)
	first, err := c.Get(context.Background(), cfg.Prefix+"/apps/a.example.com")
	if err != nil {
		t.Fatal(err)
	}
	old := first.Header.Revision
	for i := range 20 {
		if _, err := s.UpdateApp("a.example.com", func(a *cluster.App) error { a.Envs["N"] = fmt.Sprint(i); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	// The background loop compacts within a few intervals.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.Get(context.Background(), cfg.Prefix+"/apps/a.example.com", clientv3.WithRev(old))
		if errors.Is(err, rpctypes.ErrCompacted) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("revision %d still readable after 30s of compaction every 200ms: %v", old, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if a, err := s.App("a.example.com"); err != nil || a.Envs["N"] != "19" {
		t.Fatalf("after compaction: %+v, %v", a, err)
	}
	if _, err := s.CreateApp("b.example.com"); err != nil {
		t.Fatal(err)
	}
}

// TestOtherControllersWritesAreSeen: a second store on the same prefix
// writes; the first one's AllInstances (served from memory) and
// Generation follow.
func TestOtherControllersWritesAreSeen(t *testing.T) {
	cfg := NewConfig(t)
	a := storetest.MustOpen(t, Opener(cfg))
	b := storetest.MustOpen(t, Opener(cfg))
	if a.ControllerID() != b.ControllerID() || a.ClusterID() != b.ClusterID() || b.Created() || b.Epoch() <= a.Epoch() {
		t.Fatalf("second open: controller %s/%s cluster %s/%s created %v epoch %d after %d", a.ControllerID(), b.ControllerID(), a.ClusterID(), b.ClusterID(), b.Created(), b.Epoch(), a.Epoch())
	}
	a.CreateApp("a.example.com")
	if all, _ := a.AllInstances(); len(all) != 0 {
		t.Fatalf("instances of a new store: %+v", all)
	}
	gen := a.Generation()
	if err := b.PutInstance(cluster.Instance{ID: "c1", App: "a.example.com", Host: "10.0.0.1", Port: 1, Routed: true}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		all, err := a.AllInstances()
		if err == nil && len(all) == 1 && a.Generation() > gen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other store's write not seen after 10s: %+v, %v, generation %d", all, err, a.Generation())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Both raise the routing-table version one change at a time.
	ta, _ := a.RoutingTable()
	tb, _ := b.RoutingTable()
	if ta.Version != tb.Version || len(tb.Routes["a.example.com"]) != 1 {
		t.Fatalf("tables: %+v and %+v", ta, tb)
	}

	// Changes by either, interleaved: each store's copy ends equal to
	// what etcd holds, and a's table follows b's unrouting.
	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("not within 10s: %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for i := range 10 {
		w := []cluster.Store{a, b}[i%2]
		if err := w.PutInstance(cluster.Instance{ID: fmt.Sprint("x", i), App: "a.example.com", Host: "10.0.0.2", Port: 100 + i, Routed: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.SetRouted("a.example.com", []string{"c1"}, false); err != nil {
		t.Fatal(err)
	}
	eventually("both copies hold 11 instances with c1 unrouted", func() bool {
		for _, s := range []cluster.Store{a, b} {
			all, _ := s.AllInstances()
			if len(all) != 11 || all[0].ID != "c1" || all[0].Routed {
				return false
			}
		}
		table, _ := a.RoutingTable()
		return len(table.Routes["a.example.com"]) == 10
	})
	if err := b.DeleteApp("a.example.com"); err != nil {
		t.Fatal(err)
	}
	eventually("a's copy empty after b deleted the app", func() bool {
		all, err := a.AllInstances()
		return err == nil && len(all) == 0
	})
}

// BenchmarkStore measures the etcd store (three members on loopback under
// scripts/test) with the same operations as the data file's.
func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, storetest.MustOpen(b, Opener(NewConfig(b))))
}
