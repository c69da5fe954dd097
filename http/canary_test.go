package http

import (
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

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
			if tt.bad != "" {
				if cluster.ErrorCode(err) != cluster.EINVALID || !strings.Contains(cluster.ErrorMessage(err), tt.bad) {
					t.Fatalf("error %v, want a 400 containing %q", err, tt.bad)
				}
				return
			}
			if err != nil || d.Canary != tt.want.Canary || d.CanaryCount != tt.want.CanaryCount || d.CanaryAuto != tt.want.CanaryAuto || d.CanaryMaxErrors != tt.want.CanaryMaxErrors {
				t.Fatalf("got %+v (%v), want %+v", d, err, tt.want)
			}
		})
	}
}
