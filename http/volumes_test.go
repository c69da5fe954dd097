package http

import (
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// TestDeployPlacement reads a deploy's volumes, pinned hosts and hold from
// JSON and from a form; left out they stay nil (the app's), [] clears.
func TestDeployPlacement(t *testing.T) {
	tests := []struct {
		body, ctype    string
		volumes, hosts []string
		cleared        bool
		hold           time.Duration
		bad            string
	}{
		{body: `{"image":"app:1"}`},
		{body: `{"image":"app:1","volumes":["data:/data"],"hosts":["10.0.0.5"],"hold":"1m"}`, volumes: []string{"data:/data"}, hosts: []string{"10.0.0.5"}, hold: time.Minute},
		{body: `{"image":"app:1","volumes":[],"hosts":[]}`, cleared: true},
		{body: `image=app:1&volumes=a:/a&volumes=b:/b&hosts=10.0.0.5&hold=45`, ctype: "application/x-www-form-urlencoded", volumes: []string{"a:/a", "b:/b"}, hosts: []string{"10.0.0.5"}, hold: 45 * time.Second},
		{body: `{"image":"app:1","volumes":["data"]}`, bad: `has no ':'`},
		{body: `{"image":"app:1","volumes":["data:/a","data:/b"]}`, bad: `repeats`},
		{body: `{"image":"app:1","hosts":["db.example.com"]}`, bad: `not an IP address`},
		{body: `{"image":"app:1","hold":"11m"}`, bad: `Hold 11m0s is out of range`},
		{body: `{"image":"app:1","volumes":"data:/data"}`, bad: `Field "volumes"`},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			d, err := decodeDeploy(tt.body, tt.ctype)
			if tt.bad != "" {
				if cluster.ErrorCode(err) != cluster.EINVALID || !strings.Contains(cluster.ErrorMessage(err), tt.bad) {
					t.Fatalf("error %v, want a 400 containing %q", err, tt.bad)
				}
				return
			}
			if err != nil || strings.Join(d.Volumes, ",") != strings.Join(tt.volumes, ",") || strings.Join(d.Hosts, ",") != strings.Join(tt.hosts, ",") || d.Hold.D() != tt.hold {
				t.Fatalf("volumes %q hosts %q hold %s, err %v; want %q %q %s", d.Volumes, d.Hosts, d.Hold.D(), err, tt.volumes, tt.hosts, tt.hold)
			}
			if tt.cleared != (d.Volumes != nil && len(d.Volumes) == 0 && d.Hosts != nil && len(d.Hosts) == 0) {
				t.Fatalf("volumes %#v hosts %#v: cleared should be %v", d.Volumes, d.Hosts, tt.cleared)
			}
		})
	}
}
