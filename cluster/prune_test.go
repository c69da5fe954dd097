package cluster

import (
	"fmt"
	"testing"
)

func TestPruneRevisions(t *testing.T) {
	const (
		S = StatusSucceeded
		F = StatusFailed
		D = StatusDeploying
	)
	revs := func(statuses ...string) []RevisionState {
		out := make([]RevisionState, len(statuses))
		for i, s := range statuses {
			out[i] = RevisionState{Number: i + 1, Status: s}
		}
		return out
	}
	for _, c := range []struct {
		name    string
		revs    []RevisionState
		current int
		keep    int
		want    string
	}{
		{"none", nil, 0, 3, "[]"},
		{"under the limit", revs(S, F, D), 1, 3, "[]"},
		{"at the limit", revs(S, F, S, D), 3, 4, "[]"},
		{"failed ones go first, oldest first", revs(S, F, S, F, D), 3, 3, "[2 4]"},
		{"then the oldest succeeded", revs(S, S, S, F, D), 3, 2, "[4 1 2]"},
		{"the current revision stays even when oldest", revs(S, F, F, F, D), 1, 2, "[2 3 4]"},
		{"the newest stays even when failed", revs(S, S, F), 2, 2, "[1]"},
		{"revisions still deploying stay", revs(D, F, S, D), 3, 2, "[2]"},
		{"a canary stays", revs(F, StatusCanary, S, F), 3, 2, "[1]"},
		{"cannot go below the protected ones", revs(D, D, S, D), 3, 1, "[]"},
		{"interrupted counts as not succeeded", revs(S, "interrupted", S, D), 3, 3, "[2]"},
		{"keep one: only the newest and the current", revs(S, F, S, F, S, F), 5, 1, "[2 4 1 3]"},
	} {
		if got := fmt.Sprint(nonNilInts(PruneRevisions(c.revs, c.current, c.keep))); got != c.want {
			t.Errorf("%s: pruneRevisions = %s, want %s", c.name, got, c.want)
		}
	}
}

func nonNilInts(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}
