package router

import (
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
)

// The weighted choice: of every 100 consecutive clients assigned a side,
// exactly weight go to the canary, whatever the spread's starting point.
func TestCanaryPickIsTheWeight(t *testing.T) {
	for _, weight := range []int{1, 10, 20, 50, 99} {
		for _, offset := range []uint64{0, 1, 37, 99} {
			c := &canarySplit{weight: weight, offset: offset}
			for block := uint64(0); block < 3; block++ {
				n := 0
				for i := block * 100; i < block*100+100; i++ {
					if c.pickCanary(i) {
						n++
					}
				}
				if n != weight {
					t.Fatalf("weight %d, offset %d, clients %d-%d: %d went to the canary", weight, offset, block*100, block*100+99, n)
				}
			}
		}
	}
	// Scattered, not in one run: weight 20 never sends 10 clients in a
	// row to the canary.
	c := &canarySplit{weight: 20}
	run := 0
	for i := uint64(0); i < 200; i++ {
		if c.pickCanary(i) {
			run++
		} else {
			run = 0
		}
		if run >= 10 {
			t.Fatalf("client %d: %d in a row on the canary", i, run)
		}
	}
}

// A new table of the same canary keeps counting where the last left off
// (so a table every few seconds does not restart the spread); a canary of
// another revision starts afresh, with its own cookie values.
func TestCanarySplitCarriesOver(t *testing.T) {
	t1 := cluster.RoutingTable{Routes: map[string][]string{"a.example.com": {"10.0.0.1:1"}},
		Canary: map[string]cluster.CanaryRoute{"A.example.com": {Revision: 4, Weight: 20, Routes: []string{"10.0.0.2:1"}}}}
	s1 := newSnapshot(t1, nil)
	c1 := s1.canary["a.example.com"]
	if c1 == nil || c1.canary != "4-c" || c1.current != "4-s" || len(c1.app.backends) != 1 {
		t.Fatalf("canary: %+v", c1)
	}
	c1.assigned.Store(17)
	s2 := newSnapshot(t1, s1)
	if c2 := s2.canary["a.example.com"]; c2.assigned.Load() != 17 || c2.offset != c1.offset || c2.app.backends[0] != c1.app.backends[0] {
		t.Fatalf("same canary: assigned %d, offset %d/%d", c2.assigned.Load(), c2.offset, c1.offset)
	}
	t3 := t1
	t3.Canary = map[string]cluster.CanaryRoute{"a.example.com": {Revision: 5, Weight: 20, Routes: []string{"10.0.0.2:1"}}}
	if c3 := newSnapshot(t3, s2).canary["a.example.com"]; c3.assigned.Load() != 0 || c3.canary != "5-c" {
		t.Fatalf("another canary: assigned %d, cookie %s", c3.assigned.Load(), c3.canary)
	}
}
