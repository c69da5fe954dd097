package cluster

import (
	"strings"
	"testing"
)

func TestValidatePlacement(t *testing.T) {
	tests := []struct {
		volumes, hosts []string
		wantHosts      []string
		err            string
	}{
		{[]string{"data:/data", "logs:/var/log/app"}, []string{"10.0.0.1"}, []string{"10.0.0.1"}, ""},
		{nil, []string{"10.0.0.2", "::ffff:10.0.0.1"}, []string{"10.0.0.2", "10.0.0.1"}, ""},
		{nil, nil, []string{}, ""},
		{[]string{"data:/data"}, nil, nil, "must be pinned"},
		{[]string{"data"}, []string{"10.0.0.1"}, nil, "has no ':'"},
		{[]string{"Data:/data"}, []string{"10.0.0.1"}, nil, "Volume name \"Data\" is not valid"},
		{[]string{"data:relative"}, []string{"10.0.0.1"}, nil, "is not valid: give an absolute"},
		{[]string{"data:/"}, []string{"10.0.0.1"}, nil, "is not valid"},
		{[]string{"data:/a/../b"}, []string{"10.0.0.1"}, nil, "is not valid"},
		{[]string{"data:/a", "data:/b"}, []string{"10.0.0.1"}, nil, "repeats"},
		{[]string{"a:/data", "b:/data"}, []string{"10.0.0.1"}, nil, "repeats"},
		{nil, []string{"10.0.0.1", "10.0.0.1"}, nil, "given twice"},
		{nil, []string{"db.example.com"}, nil, "not an IP address"},
	}
	for _, tt := range tests {
		got, err := ValidatePlacement(tt.volumes, tt.hosts)
		if tt.err == "" {
			if err != nil || strings.Join(got, ",") != strings.Join(tt.wantHosts, ",") {
				t.Errorf("ValidatePlacement(%q, %q) = %q, %v; want %q", tt.volumes, tt.hosts, got, err, tt.wantHosts)
			}
			continue
		}
		if err == nil || ErrorCode(err) != EINVALID || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ValidatePlacement(%q, %q) = %v; want an invalid error with %q", tt.volumes, tt.hosts, err, tt.err)
		}
	}
}

func TestRevisionMounts(t *testing.T) {
	rev := &Revision{App: "shop.example.com", Volumes: []string{"data:/data", "up_loads:/srv/up"}, Hosts: []string{"10.0.0.1"}}
	got := rev.Mounts()
	want := []VolumeMount{{"longshoreman-shop.example.com-data", "/data"}, {"longshoreman-shop.example.com-up_loads", "/srv/up"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Mounts = %+v, want %+v", got, want)
	}
	if !rev.StopFirst() || !rev.Pinned() || !rev.PinnedTo("10.0.0.1") || rev.PinnedTo("10.0.0.2") {
		t.Fatal("a revision with volumes and a host is pinned to it and stop-first")
	}
	if rev.HoldOr() != DefaultHold {
		t.Fatalf("HoldOr = %s, want the default", rev.HoldOr())
	}
}

func TestHeldInTable(t *testing.T) {
	var table RoutingTable
	AddHeld(&table, &App{Name: "a.example.com"})
	if table.Held != nil {
		t.Fatal("an app not holding is not held")
	}
	before := TableSum(table)
	AddHeld(&table, &App{Name: "a.example.com", Holding: true})
	if table.Held["a.example.com"].D() != DefaultHold {
		t.Fatalf("held = %v, want the default hold", table.Held)
	}
	if string(TableSum(table)) == string(before) {
		t.Fatal("holding an app must change the table's sum, so its version rises")
	}
}
