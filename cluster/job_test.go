package cluster

import "testing"

// The last run of a job is the newest that started: skipped due times
// before it are passed over.
func TestLastRun(t *testing.T) {
	run := func(outcome string) JobRun { return JobRun{Outcome: outcome} }
	tests := []struct {
		name string
		runs []JobRun
		want string // outcome; "" for none
	}{
		{"no run yet", nil, ""},
		{"only skips", []JobRun{run(JobSkipped)}, ""},
		{"the newest", []JobRun{run(JobFailed), run(JobSucceeded)}, JobFailed},
		{"running", []JobRun{run(JobRunning), run(JobFailed)}, JobRunning},
		{"skips newer than it", []JobRun{run(JobSkipped), run(JobSkipped), run(JobFailed), run(JobSucceeded)}, JobFailed},
	}
	for _, tt := range tests {
		r, ok := LastRun(tt.runs)
		if ok != (tt.want != "") || r.Outcome != tt.want {
			t.Errorf("%s: LastRun = %q, %v; want %q", tt.name, r.Outcome, ok, tt.want)
		}
	}
}
