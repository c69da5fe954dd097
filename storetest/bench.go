package storetest

import (
	"fmt"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
)

// Benchmark measures single writes and reads of s, so that the stores can
// be compared side by side (go test -bench . ./db ./etcd).
func Benchmark(b *testing.B, s cluster.Store) {
	const app = "bench.example.com"
	if _, err := s.CreateApp(app); err != nil {
		b.Fatal(err)
	}
	for i := range 20 {
		if err := s.PutInstance(cluster.Instance{ID: fmt.Sprint("seed", i), App: app, Host: "10.0.0.1", Port: 20000 + i, Routed: true}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("UpdateApp", func(b *testing.B) {
		for i := range b.N {
			if _, err := s.UpdateApp(app, func(a *cluster.App) error { a.Envs["N"] = fmt.Sprint(i); return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("PutInstance+RoutingTable", func(b *testing.B) {
		for i := range b.N {
			if err := s.PutInstance(cluster.Instance{ID: "x", App: app, Host: "10.0.0.2", Port: 1 + i%1000, Routed: true}); err != nil {
				b.Fatal(err)
			}
			if _, err := s.RoutingTable(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("CreateRevision", func(b *testing.B) {
		for range b.N {
			if err := s.CreateRevision(&cluster.Revision{App: app, Image: "img:1", Status: cluster.StatusFailed}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("App", func(b *testing.B) {
		for range b.N {
			if _, err := s.App(app); err != nil {
				b.Fatal(err)
			}
		}
	})
}
