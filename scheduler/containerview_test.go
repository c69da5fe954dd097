package scheduler

import (
	"errors"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// A step of a container view's life: the stream opening or closing, an event's
// update, or a list begun and ended (with the containers it returned).
type viewStep struct {
	open, close, stale bool
	update             *viewUpdate
	beginList          bool
	endList            []cluster.Container
	endListErr         error
	ended              bool // endList is a step (with an empty list when endList is nil)
	wait               time.Duration
}

func running(id string, port int) cluster.Container {
	return cluster.Container{ID: id, Running: true, State: "running", Port: port}
}

func TestContainerViewSequences(t *testing.T) {
	a, b := running("a", 1001), running("b", 1002)
	deadA := cluster.Container{ID: "a", State: "exited"}
	cases := []struct {
		name  string
		steps []viewStep
		live  bool
		want  []cluster.Container // when live
	}{
		{name: "never listed", steps: []viewStep{{open: true}}, live: false},
		{name: "listed without a stream", steps: []viewStep{{beginList: true}, {ended: true, endList: []cluster.Container{a}}}, live: false},
		{name: "stream then list", steps: []viewStep{{open: true}, {beginList: true}, {ended: true, endList: []cluster.Container{a}}},
			live: true, want: []cluster.Container{a}},
		{name: "start event after the list", steps: []viewStep{{open: true}, {beginList: true}, {ended: true, endList: []cluster.Container{a}},
			{update: &viewUpdate{ID: "b", Ct: b}}}, live: true, want: []cluster.Container{a, b}},
		{name: "death seen at once", steps: []viewStep{{open: true}, {beginList: true}, {ended: true, endList: []cluster.Container{a, b}},
			{update: &viewUpdate{ID: "a", Dead: true}}}, live: true, want: []cluster.Container{deadA, b}},
		{name: "destroy removes", steps: []viewStep{{open: true}, {beginList: true}, {ended: true, endList: []cluster.Container{a, b}},
			{update: &viewUpdate{ID: "a", Gone: true}}}, live: true, want: []cluster.Container{b}},
		{name: "death during the list is applied on top of it", steps: []viewStep{{open: true}, {beginList: true},
			{update: &viewUpdate{ID: "a", Dead: true}}, {ended: true, endList: []cluster.Container{a, b}}},
			live: true, want: []cluster.Container{deadA, b}},
		{name: "start during the list is applied on top of it", steps: []viewStep{{open: true}, {beginList: true},
			{update: &viewUpdate{ID: "b", Ct: b}}, {ended: true, endList: []cluster.Container{a}}},
			live: true, want: []cluster.Container{a, b}},
		{name: "destroy during the list is applied on top of it", steps: []viewStep{{open: true}, {beginList: true},
			{update: &viewUpdate{ID: "a", Gone: true}}, {ended: true, endList: []cluster.Container{a}}},
			live: true, want: []cluster.Container{}},
		{name: "stream gap: closed", steps: []viewStep{{open: true}, {beginList: true}, {ended: true, endList: []cluster.Container{a}}, {close: true}}, live: false},
		{name: "stream reopened: stale until listed", steps: []viewStep{{open: true}, {beginList: true}, {ended: true, endList: []cluster.Container{a}},
			{close: true}, {open: true}}, live: false},
		{name: "stream reopened and listed", steps: []viewStep{{open: true}, {beginList: true}, {ended: true, endList: []cluster.Container{a}},
			{close: true}, {open: true}, {beginList: true}, {ended: true, endList: []cluster.Container{b}}}, live: true, want: []cluster.Container{b}},
		{name: "stream reopened during the list", steps: []viewStep{{open: true}, {beginList: true}, {close: true}, {open: true},
			{ended: true, endList: []cluster.Container{a}}}, live: false},
		{name: "list failed", steps: []viewStep{{open: true}, {beginList: true}, {ended: true, endListErr: errors.New("host down")}}, live: false},
		{name: "death of a container never seen", steps: []viewStep{{open: true}, {beginList: true}, {ended: true, endList: []cluster.Container{a}},
			{update: &viewUpdate{ID: "x", Dead: true}}}, live: false},
		// Docker sends die before the state its list reads is updated: a list
		// asked for just after the event may still show the container running.
		{name: "death just before a list that still shows it running", steps: []viewStep{{open: true}, {beginList: true},
			{ended: true, endList: []cluster.Container{a, b}}, {update: &viewUpdate{ID: "a", Dead: true}},
			{beginList: true}, {ended: true, endList: []cluster.Container{a, b}}},
			live: true, want: []cluster.Container{deadA, b}},
		{name: "removal just before a list that still shows it", steps: []viewStep{{open: true}, {beginList: true},
			{ended: true, endList: []cluster.Container{a, b}}, {update: &viewUpdate{ID: "a", Gone: true}},
			{beginList: true}, {ended: true, endList: []cluster.Container{a, b}}},
			live: true, want: []cluster.Container{b}},
		{name: "started again after its death", steps: []viewStep{{open: true}, {beginList: true},
			{ended: true, endList: []cluster.Container{a, b}}, {update: &viewUpdate{ID: "a", Dead: true}}, {update: &viewUpdate{ID: "a", Ct: a}},
			{beginList: true}, {ended: true, endList: []cluster.Container{a, b}}},
			live: true, want: []cluster.Container{a, b}},
		{name: "a death long before the list: the list holds", steps: []viewStep{{open: true}, {beginList: true},
			{ended: true, endList: []cluster.Container{a, b}}, {update: &viewUpdate{ID: "a", Dead: true}}, {wait: endedKeep + time.Second},
			{beginList: true}, {ended: true, endList: []cluster.Container{a, b}}},
			live: true, want: []cluster.Container{a, b}},
		{name: "inspect failed", steps: []viewStep{{open: true}, {beginList: true}, {ended: true, endList: []cluster.Container{a}}, {stale: true}}, live: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newContainerViews()
			now := time.Now()
			v.now = func() time.Time { return now }
			for _, s := range tc.steps {
				switch {
				case s.wait > 0:
					now = now.Add(s.wait)
				case s.open:
					v.streamOpened("h")
				case s.close:
					v.streamClosed("h")
				case s.stale:
					v.stale("h")
				case s.update != nil:
					v.apply("h", *s.update)
				case s.beginList:
					v.beginList("h")
				case s.ended:
					listed := v.endList("h", s.endList, s.endListErr)
					// A pass judges what endList returns: the view, not the list.
					held := slices.Collect(maps.Values(v.hosts["h"].containers))
					if s.endListErr != nil {
						held = nil
					}
					if !sameContainers(listed, held) {
						t.Fatalf("endList returned %+v, the view holds %+v", listed, held)
					}
				}
			}
			got, live := v.snapshot("h")
			sort.Slice(got, func(i, j int) bool { return got[i].ID < got[j].ID })
			if live != tc.live {
				t.Fatalf("live = %v, want %v", live, tc.live)
			}
			if !live {
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("view = %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("view[%d] = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// sameContainers reports whether a and b hold the same containers, in any
// order.
func sameContainers(a, b []cluster.Container) bool {
	byID := func(x, y cluster.Container) int { return strings.Compare(x.ID, y.ID) }
	a, b = slices.SortedFunc(slices.Values(a), byID), slices.SortedFunc(slices.Values(b), byID)
	return slices.Equal(a, b)
}

// Each host is listed once every relistEvery passes, and the hosts are
// spread over the passes rather than all listed in the same one.
func TestRelistDueIsStaggered(t *testing.T) {
	hosts := make([]string, 100)
	for i := range hosts {
		hosts[i] = "10.0." + string(rune('0'+i/10)) + "." + string(rune('0'+i%10))
	}
	most := 0
	for pass := uint64(0); pass < relistEvery; pass++ {
		n := 0
		for _, h := range hosts {
			if relistDue(h, pass) {
				n++
			}
		}
		most = max(most, n)
	}
	for _, h := range hosts {
		n := 0
		for pass := uint64(0); pass < 3*relistEvery; pass++ {
			if relistDue(h, pass) {
				n++
			}
		}
		if n != 3 {
			t.Fatalf("%s listed %d times in %d passes, want 3", h, n, 3*relistEvery)
		}
	}
	if most > 30 {
		t.Fatalf("one pass lists %d of 100 hosts: not staggered", most)
	}
}
