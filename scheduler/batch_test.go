package scheduler

import (
	"reflect"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
)

func TestPlanBatches(t *testing.T) {
	b := func(start, retire int) Batch { return Batch{Start: start, Retire: retire} }
	tests := []struct {
		name             string
		old, count, size int
		want             []Batch
	}{
		{"no batch size: all at once", 4, 4, 0, []Batch{b(4, 4)}},
		{"a size as large as the count: all at once", 4, 4, 4, []Batch{b(4, 4)}},
		{"a size larger than the count: all at once", 4, 3, 5, []Batch{b(3, 4)}},
		{"one at a time", 4, 4, 1, []Batch{b(1, 1), b(1, 1), b(1, 1), b(1, 1)}},
		{"the last batch is smaller", 5, 5, 2, []Batch{b(2, 2), b(2, 2), b(1, 1)}},
		{"more new than old: the extra new start at the end", 2, 5, 2, []Batch{b(2, 2), b(2, 0), b(1, 0)}},
		{"fewer new than old: the surplus old retire with the last batch", 6, 3, 1, []Batch{b(1, 1), b(1, 1), b(1, 4)}},
		{"nothing running yet: starts in batches", 0, 3, 1, []Batch{b(1, 0), b(1, 0), b(1, 0)}},
		{"count 0: everything retires", 3, 0, 1, []Batch{b(0, 3)}},
		{"20 instances by 5", 20, 20, 5, []Batch{b(5, 5), b(5, 5), b(5, 5), b(5, 5)}},
		{"a count change one up", 4, 5, 2, []Batch{b(2, 2), b(2, 2), b(1, 0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := PlanBatches(tc.old, tc.count, tc.size)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("PlanBatches(%d, %d, %d) = %v, want %v", tc.old, tc.count, tc.size, got, tc.want)
			}
			// Invariants: every new instance starts, every old one retires,
			// and the app never runs more than old+size (or count).
			started, retired, peak, running := 0, 0, 0, tc.old
			for _, x := range got {
				started += x.Start
				retired += x.Retire
				running += x.Start
				peak = max(peak, running)
				running -= x.Retire
			}
			if started != tc.count || retired != tc.old {
				t.Errorf("starts %d of %d, retires %d of %d", started, tc.count, retired, tc.old)
			}
			if tc.size > 0 && tc.size < tc.count && peak > max(tc.old+tc.size, tc.count) {
				t.Errorf("runs %d at once, more than old+size %d or count %d", peak, tc.old+tc.size, tc.count)
			}
		})
	}
}

func TestPlanBatch(t *testing.T) {
	rev3 := &cluster.Revision{App: "a.example.com", Number: 3, Image: "img:3", Count: 3}
	unrouted := inst("u", "10.0.0.3")
	unrouted.Routed = false
	newOn1 := inst("new", "10.0.0.1")
	newOn1.Revision = 3
	tests := []struct {
		name string
		o    Observation
		old  []cluster.Instance
		b    Batch
		want opPlan
	}{
		{"an old one leaves where the app has most, the new one goes where it has fewest",
			observed(cluster3, []cluster.Instance{inst("a", "10.0.0.1"), inst("bb", "10.0.0.1"), inst("c", "10.0.0.2")}),
			[]cluster.Instance{inst("a", "10.0.0.1"), inst("bb", "10.0.0.1"), inst("c", "10.0.0.2")}, Batch{1, 1},
			opPlan{Start: []string{"10.0.0.3"}, Retire: []string{"a"}, Replace: true}},
		{"an old instance that is not routed leaves first",
			observed(cluster3, []cluster.Instance{inst("a", "10.0.0.1"), inst("bb", "10.0.0.1"), unrouted}),
			[]cluster.Instance{inst("a", "10.0.0.1"), inst("bb", "10.0.0.1"), unrouted}, Batch{1, 1},
			opPlan{Start: []string{"10.0.0.2"}, Retire: []string{"u"}, Replace: true}},
		{"the new instances of earlier batches stay and count toward the spread",
			observed(cluster3, []cluster.Instance{newOn1, inst("bb", "10.0.0.2"), inst("c", "10.0.0.3")}),
			[]cluster.Instance{inst("bb", "10.0.0.2"), inst("c", "10.0.0.3")}, Batch{1, 1},
			opPlan{Start: []string{"10.0.0.3"}, Retire: []string{"c"}, Replace: true}},
		{"the new one takes the place of the old one leaving, before a host busy with other apps",
			observed(cluster3, []cluster.Instance{inst("a", "10.0.0.1"), inst("bb", "10.0.0.2")}, other("x", "10.0.0.3"), other("y", "10.0.0.3")),
			[]cluster.Instance{inst("a", "10.0.0.1"), inst("bb", "10.0.0.2")}, Batch{1, 1},
			opPlan{Start: []string{"10.0.0.1"}, Retire: []string{"a"}, Replace: true}},
		{"the busiest host's old instance leaves first when the spread is even; the new one goes to the idle host",
			observed(cluster3, []cluster.Instance{inst("a", "10.0.0.1"), inst("bb", "10.0.0.2")}, other("x", "10.0.0.2")),
			[]cluster.Instance{inst("a", "10.0.0.1"), inst("bb", "10.0.0.2")}, Batch{1, 1},
			opPlan{Start: []string{"10.0.0.3"}, Retire: []string{"bb"}, Replace: true}},
		{"a batch that only starts retires nothing",
			observed(cluster3, []cluster.Instance{newOn1}), nil, Batch{2, 0},
			opPlan{Start: []string{"10.0.0.2", "10.0.0.3"}, Replace: true}},
		{"capacity not observed yet: unplaced, decided again once it is",
			observed(nil, []cluster.Instance{inst("a", "10.0.0.1")}), []cluster.Instance{inst("a", "10.0.0.1")}, Batch{1, 1},
			opPlan{Unplaced: 1, Retire: []string{"a"}, Replace: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantPlan(t, PlanBatch(tc.o, rev3, tc.old, tc.b), tc.want)
		})
	}
}
