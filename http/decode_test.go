package http

import (
	"encoding/json"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
			if tt.bad != "" {
				if cluster.ErrorCode(err) != cluster.EINVALID || !strings.Contains(cluster.ErrorMessage(err), tt.bad) {
					t.Fatalf("error %v, want a 400 containing %q", err, tt.bad)
				}
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
