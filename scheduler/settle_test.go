package scheduler

import (
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
)

func TestSettleDeploy(t *testing.T) {
	rev := cluster.Revision{App: "a.example.com", Number: 3, Count: 2}
	inst := func(id string, revision int, routed, retiring bool) cluster.Instance {
		return cluster.Instance{ID: id, App: rev.App, Revision: revision, Host: "h1", Port: 1, Routed: routed, Retiring: retiring}
	}
	tests := []struct {
		name    string
		records []cluster.Instance
		want    string
	}{
		{"nothing started", []cluster.Instance{inst("o1", 2, true, false), inst("o2", 2, true, false)}, cluster.StatusFailed},
		{"started, not yet routed", []cluster.Instance{inst("o1", 2, true, false), inst("o2", 2, true, false), inst("n1", 3, false, false), inst("n2", 3, false, false)}, cluster.StatusFailed},
		{"only some started", []cluster.Instance{inst("o1", 2, true, false), inst("n1", 3, true, false)}, cluster.StatusFailed},
		{"routed beside the old ones", []cluster.Instance{inst("o1", 2, true, false), inst("o2", 2, true, false), inst("n1", 3, true, false), inst("n2", 3, true, false)}, cluster.StatusSucceeded},
		{"routed, the old ones retiring", []cluster.Instance{inst("o1", 2, false, true), inst("o2", 2, false, true), inst("n1", 3, true, false), inst("n2", 3, true, false)}, cluster.StatusSucceeded},
		{"routed, the old ones gone", []cluster.Instance{inst("n1", 3, true, false), inst("n2", 3, true, false)}, cluster.StatusSucceeded},
		{"routed, then one died and was unrouted", []cluster.Instance{inst("o1", 2, true, false), inst("n1", 3, true, false), inst("n2", 3, false, false)}, cluster.StatusFailed},
		{"its own instances being retired do not count", []cluster.Instance{inst("n1", 3, false, true), inst("n2", 3, false, true)}, cluster.StatusFailed},
		{"no records", nil, cluster.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, reason := SettleDeploy(rev, tt.records)
			if status != tt.want {
				t.Fatalf("status %s, want %s", status, tt.want)
			}
			if (status == cluster.StatusFailed) != (reason != "") {
				t.Fatalf("status %s with reason %q", status, reason)
			}
		})
	}
}
