package http

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

// listJobs answers GET /apps/:app/jobs: each job with its next due time
// and its last runs, newest first. A run recorded running whose task has
// ended meanwhile (the leader copies the end at its next pass) is shown
// with that end: any controller answers from the store.
func (s *Server) listJobs(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	jobs, err := s.Store.Jobs(app.Name)
	if err != nil {
		return err
	}
	out := JobsResponse{Jobs: make([]Job, 0, len(jobs))}
	for _, j := range jobs {
		out.Jobs = append(out.Jobs, s.jobView(j))
	}
	ok(w, out)
	return nil
}

// addJob answers POST /apps/:app/jobs.
func (s *Server) addJob(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	var req JobRequest
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	if err := validateCommand("command", req.Command); err != nil {
		return err
	}
	note(w, "job", req.Name)
	note(w, "schedule", req.Schedule)
	j := cluster.Job{App: app.Name, Name: req.Name, Schedule: req.Schedule, Command: req.Command, Timeout: cluster.Duration(cluster.DefaultTaskTimeout)}
	if req.Timeout != nil {
		j.Timeout = *req.Timeout
	}
	created, err := s.Scheduler.AddJob(s.changeContext(w, r, http.StatusOK), j)
	if err != nil {
		return err
	}
	ok(w, JobResponse{Job: s.jobView(*created)})
	return nil
}

// removeJob answers DELETE /apps/:app/jobs/:job.
func (s *Server) removeJob(w http.ResponseWriter, r *http.Request, app *cluster.App, ps httprouter.Params) error {
	if err := s.Scheduler.RemoveJob(s.changeContext(w, r, http.StatusOK), app.Name, ps.ByName("job")); err != nil {
		return err
	}
	ok(w, struct{}{})
	return nil
}

// jobView is j as the API shows it.
func (s *Server) jobView(j cluster.Job) Job {
	v := Job{Name: j.Name, Schedule: j.Schedule, Command: j.Command, Timeout: j.Timeout, Created: j.Created, Runs: j.Runs}
	if sched, err := cluster.ParseSchedule(j.Schedule); err == nil {
		v.Next = j.NextDue(sched)
	}
	if v.Runs == nil {
		v.Runs = []cluster.JobRun{}
	}
	for i, run := range v.Runs {
		if run.Outcome != cluster.JobRunning || run.Task == "" {
			continue
		}
		if t, err := s.Store.Task(j.App, run.Task); err == nil {
			v.Runs[i].EndFrom(t)
		}
	}
	return v
}
