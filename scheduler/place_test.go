package scheduler

import (
	"reflect"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

func TestPlace(t *testing.T) {
	three := []HostLoad{{Addr: "10.0.0.3"}, {Addr: "10.0.0.1"}, {Addr: "10.0.0.2"}}
	tests := []struct {
		name  string
		n     int
		hosts []HostLoad
		app   map[string]int
		want  []string
	}{
		{"no hosts", 2, nil, nil, nil},
		{"zero instances", 0, three, nil, nil},
		{"one per host, by address", 3, three, nil, []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}},
		{"more than hosts wraps around", 5, three, nil, []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.1", "10.0.0.2"}},
		{"numeric address order", 2, []HostLoad{{Addr: "10.0.0.10"}, {Addr: "10.0.0.9"}}, nil, []string{"10.0.0.9", "10.0.0.10"}},
		{"least loaded first", 1, []HostLoad{{Addr: "10.0.0.1", Instances: 4}, {Addr: "10.0.0.2", Instances: 1}, {Addr: "10.0.0.3", Instances: 2}}, nil, []string{"10.0.0.2"}},
		{"spread beats load", 1, []HostLoad{{Addr: "10.0.0.1", Instances: 9}, {Addr: "10.0.0.2", Instances: 1}}, map[string]int{"10.0.0.2": 1}, []string{"10.0.0.1"}},
		{"free memory breaks load ties", 2, []HostLoad{{Addr: "10.0.0.1", FreeMemory: 1 << 30}, {Addr: "10.0.0.2", FreeMemory: 8 << 30}}, nil, []string{"10.0.0.2", "10.0.0.1"}},
		{"each pick counts toward the next", 4, []HostLoad{{Addr: "10.0.0.1", Instances: 2}, {Addr: "10.0.0.2"}}, nil, []string{"10.0.0.2", "10.0.0.1", "10.0.0.2", "10.0.0.1"}},
		{"scale up fills the empty hosts", 2, three, map[string]int{"10.0.0.1": 1}, []string{"10.0.0.2", "10.0.0.3"}},
		{"single host takes all", 3, []HostLoad{{Addr: "10.0.0.7"}}, nil, []string{"10.0.0.7", "10.0.0.7", "10.0.0.7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]HostLoad(nil), tt.hosts...)
			got := Place(tt.n, tt.hosts, tt.app)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Place = %v, want %v", got, tt.want)
			}
			if !reflect.DeepEqual(in, tt.hosts) {
				t.Fatal("Place changed its input")
			}
		})
	}
}

func TestPickRemovals(t *testing.T) {
	t0 := time.Unix(1000, 0)
	inst := func(id, host string, age int) cluster.Instance {
		return cluster.Instance{ID: id, Host: host, Started: t0.Add(time.Duration(-age) * time.Second)}
	}
	tests := []struct {
		name  string
		k     int
		insts []cluster.Instance
		load  map[string]int
		want  []string
	}{
		{"from the host holding most of the app", 1, []cluster.Instance{inst("a", "h1", 0), inst("b", "h2", 0), inst("c", "h2", 0)}, nil, []string{"b"}},
		{"then the most loaded host", 1, []cluster.Instance{inst("a", "h1", 0), inst("b", "h2", 0)}, map[string]int{"h1": 5, "h2": 2}, []string{"a"}},
		{"then the newest", 1, []cluster.Instance{inst("old", "h1", 10), inst("new", "h2", 1)}, nil, []string{"new"}},
		{"keeps spreading while it removes", 3, []cluster.Instance{inst("a", "h1", 0), inst("b", "h1", 0), inst("c", "h1", 0), inst("d", "h2", 0), inst("e", "h3", 0)}, nil, []string{"a", "b", "d"}},
		{"all", 5, []cluster.Instance{inst("a", "h1", 0), inst("b", "h2", 0)}, nil, []string{"a", "b"}},
		{"none", 0, []cluster.Instance{inst("a", "h1", 0)}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, i := range PickRemovals(tt.k, tt.insts, tt.load) {
				got = append(got, i.ID)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("PickRemovals = %v, want %v", got, tt.want)
			}
		})
	}
}
