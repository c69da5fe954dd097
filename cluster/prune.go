package cluster

// RevisionState is what pruning needs to know of a revision.
type RevisionState struct {
	Number int
	Status string
}

// PruneRevisions returns the numbers of the revisions to delete so that at
// most keep remain, given revs oldest first. It never picks the newest
// revision, the app's current one, one still deploying, or a canary (its
// promote needs it). Of the others it
// deletes those that did not succeed first (a rollback cannot target them),
// oldest first, then the oldest succeeded ones. Both stores prune by it in
// the transaction that creates a revision.
func PruneRevisions(revs []RevisionState, current, keep int) []int {
	excess := len(revs) - keep
	if excess <= 0 || len(revs) == 0 {
		return nil
	}
	newest := revs[len(revs)-1].Number
	var failed, succeeded []int
	for _, r := range revs {
		switch {
		case r.Number == newest || r.Number == current || r.Status == StatusDeploying || r.Status == StatusCanary:
		case r.Status == StatusSucceeded:
			succeeded = append(succeeded, r.Number)
		default:
			failed = append(failed, r.Number)
		}
	}
	out := append(failed, succeeded...)
	if len(out) > excess {
		out = out[:excess]
	}
	return out
}

// HistoryLimit is the number of revisions a store keeps per app when it
// was given n (LONGSHOREMAN_HISTORY): n, or DefaultHistory when n < 1.
func HistoryLimit(n int64) int {
	if n >= 1 {
		return int(n)
	}
	return DefaultHistory
}
