package http

import (
	"encoding/json"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// TestDeployLimits reads the memory and cpus of a deploy from JSON and from
// a form, as the request's limits (0 keeps the app's, negative removes).
func TestDeployLimits(t *testing.T) {
	tests := []struct {
		body, ctype string
		mem         cluster.Bytes
		cpus        float64
		bad         string // part of the 400's message
	}{
		{body: `{"image":"app:1"}`},
		{body: `{"image":"app:1","memory":"256m","cpus":0.5}`, mem: 256 << 20, cpus: 0.5},
		{body: `{"image":"app:1","memory":67108864,"cpus":"2"}`, mem: 64 << 20, cpus: 2},
		{body: `{"image":"app:1","memory":"6m","cpus":1024}`, mem: 6 << 20, cpus: 1024},
		{body: `{"image":"app:1","memory":"none","cpus":"none"}`, mem: -1, cpus: -1},
		{body: `{"image":"app:1","memory":0,"cpus":0}`},
		{body: `image=app:1&memory=1g&cpus=0.25`, ctype: "application/x-www-form-urlencoded", mem: 1 << 30, cpus: 0.25},
		{body: `image=app:1&memory=none&cpus=none`, ctype: "application/x-www-form-urlencoded", mem: -1, cpus: -1},
		{body: `{"image":"app:1","memory":"5m"}`, bad: `Field "memory" is 5m, below Docker's minimum of 6m`},
		{body: `{"image":"app:1","memory":"lots"}`, bad: `Field "memory" must be a size such as "256m"`},
		{body: `{"image":"app:1","memory":-5}`, bad: `Field "memory" must be a size`},
		{body: `{"image":"app:1","memory":true}`, bad: `Field "memory" must be a size`},
		{body: `{"image":"app:1","cpus":-1}`, bad: `Field "cpus" is -1: give a number of cores above 0 and at most 1024`},
		{body: `{"image":"app:1","cpus":1025}`, bad: `Field "cpus" is 1025`},
		{body: `{"image":"app:1","cpus":0.001}`, bad: `below Docker's minimum of 0.01`},
		{body: `{"image":"app:1","cpus":"half"}`, bad: `Field "cpus" must be a number of cores`},
		{body: `image=app:1&memory=12q`, ctype: "application/x-www-form-urlencoded", bad: `Field "memory" must be a size`},
		{body: `image=app:1&cpus=NaN`, ctype: "application/x-www-form-urlencoded", bad: `Field "cpus" must be a number of cores`},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			d, err := decodeDeploy(tt.body, tt.ctype)
			if refusedAs(t, err, tt.bad) {
				return
			}
			if err != nil || d.Memory != tt.mem || d.CPUs != tt.cpus {
				t.Fatalf("memory %d, cpus %v, err %v; want %d, %v", d.Memory, d.CPUs, err, tt.mem, tt.cpus)
			}
		})
	}
}

// decodeDeploy reads a deploy's body of content type ctype (JSON when
// empty) and validates it, with a maximum count of 10.
func decodeDeploy(body, ctype string) (cluster.DeployRequest, error) {
	r := httptest.NewRequest(nethttp.MethodPost, "/apps/a.example.com/deploy", strings.NewReader(body))
	if ctype == "" {
		ctype = "application/json"
	}
	r.Header.Set("Content-Type", ctype)
	var req DeployRequest
	if err := decodeRequest(r, &req); err != nil {
		return cluster.DeployRequest{}, err
	}
	return req.validate(10)
}

// refusedAs reports whether a case expects a refusal (bad not empty), and
// then fails t unless err is a 400 whose message contains bad.
func refusedAs(t *testing.T, err error, bad string) bool {
	t.Helper()
	if bad == "" {
		return false
	}
	if cluster.ErrorCode(err) != cluster.EINVALID || !strings.Contains(cluster.ErrorMessage(err), bad) {
		t.Fatalf("error %v, want a 400 containing %q", err, bad)
	}
	return true
}

// TestLimitsRoundTrip: what the CLI sends reads back the same.
func TestLimitsRoundTrip(t *testing.T) {
	for _, in := range []DeployRequest{
		{Memory: &MemoryLimit{Bytes: 64 << 20}, CPUs: &CPULimit{CPUs: 0.5}},
		{Memory: &MemoryLimit{None: true}, CPUs: &CPULimit{None: true}},
	} {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out DeployRequest
		if err := json.Unmarshal(b, &out); err != nil || *out.Memory != *in.Memory || *out.CPUs != *in.CPUs {
			t.Fatalf("%s read back as %+v %+v, %v", b, out.Memory, out.CPUs, err)
		}
	}
}

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
			if refusedAs(t, err, tt.bad) {
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

// TestDeployCanaryFields reads a deploy's canary settings, with their
// defaults, and refuses those out of range with what to give.
func TestDeployCanaryFields(t *testing.T) {
	tests := []struct {
		body string
		want cluster.DeployRequest
		bad  string // part of the 400's message
	}{
		{body: `{"image":"app:1"}`, want: cluster.DeployRequest{Image: "app:1"}},
		{body: `{"image":"app:1","canary":10}`, want: cluster.DeployRequest{Image: "app:1", Canary: 10, CanaryCount: 1, CanaryMaxErrors: 1}},
		{body: `{"image":"app:1","canary":"20","canary_count":2,"canary_auto":"5m","canary_max_errors":2.5}`,
			want: cluster.DeployRequest{Image: "app:1", Canary: 20, CanaryCount: 2, CanaryAuto: cluster.Duration(5 * time.Minute), CanaryMaxErrors: 2.5}},
		{body: `{"image":"app:1","canary":0}`, bad: "The canary's share is 0 percent: give 1 to 99"},
		{body: `{"image":"app:1","canary":100}`, bad: "The canary's share is 100 percent"},
		{body: `{"image":"app:1","canary":10,"canary_count":0}`, bad: "The canary's count is 0: give 1 to 10"},
		{body: `{"image":"app:1","canary":10,"canary_count":11}`, bad: "The canary's count is 11"},
		{body: `{"image":"app:1","canary":10,"canary_max_errors":-1}`, bad: "error margin is -1"},
		{body: `{"image":"app:1","canary_count":2}`, bad: `need a canary: give "canary"`},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			d, err := decodeDeploy(tt.body, "")
			if refusedAs(t, err, tt.bad) {
				return
			}
			if err != nil || d.Canary != tt.want.Canary || d.CanaryCount != tt.want.CanaryCount || d.CanaryAuto != tt.want.CanaryAuto || d.CanaryMaxErrors != tt.want.CanaryMaxErrors {
				t.Fatalf("got %+v (%v), want %+v", d, err, tt.want)
			}
		})
	}
}
