package etcd

import (
	"encoding/json"

	"github.com/longshoreman/longshoreman/cluster"
)

// jobKey is P/jobs/<app>/<name>.
func (s *Store) jobKey(app, name string) string { return s.key(cluster.RecordJob, app, name) }

// CreateJob stores a new job; ECONFLICT when the app has one of that name,
// EINVALID when it has cluster.MaxJobs, ENOTFOUND for an unknown app.
func (s *Store) CreateJob(j cluster.Job) error {
	buf, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return s.update(func(x *txn) error {
		if err := s.requireApp(x, j.App); err != nil {
			return err
		}
		kvs, err := x.listKeys(s.key(cluster.RecordJob, j.App, ""))
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			if string(kv.Key) == s.jobKey(j.App, j.Name) {
				return cluster.JobExists(j.App, j.Name)
			}
		}
		if len(kvs) >= cluster.MaxJobs {
			return cluster.TooManyJobs(j.App)
		}
		x.put(s.jobKey(j.App, j.Name), buf)
		return nil
	})
}

// DeleteJob removes a job; ENOTFOUND when there is none.
func (s *Store) DeleteJob(app, name string) error {
	return s.update(func(x *txn) error {
		if _, err := s.getJob(x, app, name); err != nil {
			return err
		}
		x.del(s.jobKey(app, name))
		return nil
	})
}

// Job returns one job of app, or ENOTFOUND.
func (s *Store) Job(app, name string) (*cluster.Job, error) {
	var j *cluster.Job
	err := s.view(func(x *txn) error {
		var err error
		j, err = s.getJob(x, app, name)
		return err
	})
	return j, err
}

// Jobs returns app's jobs by name; ENOTFOUND for an unknown app.
func (s *Store) Jobs(app string) ([]cluster.Job, error) {
	var jobs []cluster.Job
	err := s.view(func(x *txn) error {
		if err := s.requireApp(x, app); err != nil {
			return err
		}
		var err error
		jobs, err = s.listJobs(x, s.key(cluster.RecordJob, app, ""))
		return err
	})
	return jobs, err
}

// AllJobs returns every app's jobs, by app and name.
func (s *Store) AllJobs() ([]cluster.Job, error) {
	var jobs []cluster.Job
	err := s.view(func(x *txn) error {
		var err error
		jobs, err = s.listJobs(x, s.key(cluster.RecordJob, ""))
		return err
	})
	return jobs, err
}

// UpdateJob changes a job with fn and records task, when given, in one
// Txn (see cluster.JobStore): the job's key is guarded by the revision it
// was read at, so a claim that collided with another writer's is decided
// again on what that one left.
func (s *Store) UpdateJob(app, name string, fn func(*cluster.Job) error, task *cluster.Task) (*cluster.Job, error) {
	var taskBuf []byte
	if task != nil {
		var err error
		if taskBuf, err = json.Marshal(task); err != nil {
			return nil, err
		}
	}
	var j *cluster.Job
	err := s.update(func(x *txn) error {
		var err error
		if j, err = s.getJob(x, app, name); err != nil {
			return err
		}
		if err := fn(j); err != nil {
			return err
		}
		if err := putJSON(x, s.jobKey(app, name), j); err != nil {
			return err
		}
		if task != nil {
			return s.putTask(x, *task, taskBuf)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return j, nil
}

func (s *Store) getJob(x *txn, app, name string) (*cluster.Job, error) {
	buf, err := x.get(s.jobKey(app, name))
	if err != nil {
		return nil, err
	}
	if buf == nil {
		return nil, cluster.NoJob(app, name)
	}
	j := &cluster.Job{}
	return j, json.Unmarshal(buf, j)
}

// listJobs decodes the jobs under prefix, by app and name.
func (s *Store) listJobs(x *txn, prefix string) ([]cluster.Job, error) {
	kvs, err := x.list(prefix)
	if err != nil {
		return nil, err
	}
	jobs := make([]cluster.Job, 0, len(kvs))
	for _, kv := range kvs {
		var j cluster.Job
		if err := json.Unmarshal(kv.Value, &j); err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	cluster.SortJobs(jobs)
	return jobs, nil
}
