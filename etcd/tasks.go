package etcd

import (
	"encoding/json"
	"slices"

	"github.com/longshoreman/longshoreman/cluster"
)

// taskKey is P/tasks/<app>/<id>.
func (s *Store) taskKey(app, id string) string { return s.key(cluster.RecordTask, app, id) }

// PutTask creates or replaces the record of task t and, in the same Txn,
// deletes the app's oldest beyond cluster.TaskHistory (at most one or two:
// each put prunes). The app must exist (ENOTFOUND).
func (s *Store) PutTask(t cluster.Task) error {
	buf, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return s.update(func(x *txn) error { return s.putTask(x, t, buf) })
}

// putTask is PutTask within x, buf being t's JSON.
func (s *Store) putTask(x *txn, t cluster.Task, buf []byte) error {
	if err := s.requireApp(x, t.App); err != nil {
		return err
	}
	prefix := s.key(cluster.RecordTask, t.App, "")
	kvs, err := x.listKeys(prefix)
	if err != nil {
		return err
	}
	if len(kvs) < cluster.TaskHistory {
		x.put(s.taskKey(t.App, t.ID), buf)
		return nil
	}
	tasks, err := s.listTasks(x, prefix)
	if err != nil {
		return err
	}
	tasks = slices.DeleteFunc(tasks, func(old cluster.Task) bool { return old.ID == t.ID })
	tasks = append(tasks, t)
	cluster.SortTasks(tasks)
	// One operation per key: t itself is not put when it is among the
	// oldest, as bbolt's put-then-prune leaves it out too.
	for i, kept := range tasks {
		switch {
		case i < cluster.TaskHistory && kept.ID == t.ID:
			x.put(s.taskKey(t.App, t.ID), buf)
		case i >= cluster.TaskHistory && kept.ID != t.ID:
			x.del(s.taskKey(t.App, kept.ID))
		}
	}
	return nil
}

// Task returns one task of app, or ENOTFOUND.
func (s *Store) Task(app, id string) (*cluster.Task, error) {
	var t *cluster.Task
	err := s.view(func(x *txn) error {
		buf, err := x.get(s.taskKey(app, id))
		if err != nil {
			return err
		}
		if buf == nil {
			return cluster.Errorf(cluster.ENOTFOUND, "App %s has no task %s", app, id).WithFix("see its recent tasks with", cluster.OpTasks, cluster.ArgApp, app)
		}
		t = &cluster.Task{}
		return json.Unmarshal(buf, t)
	})
	return t, err
}

// Tasks returns app's tasks, newest first; ENOTFOUND for an unknown app.
func (s *Store) Tasks(app string) ([]cluster.Task, error) {
	var tasks []cluster.Task
	err := s.view(func(x *txn) error {
		if err := s.requireApp(x, app); err != nil {
			return err
		}
		var err error
		tasks, err = s.listTasks(x, s.key(cluster.RecordTask, app, ""))
		return err
	})
	return tasks, err
}

// RunningTasks returns every app's tasks in state running.
func (s *Store) RunningTasks() ([]cluster.Task, error) {
	var running []cluster.Task
	err := s.view(func(x *txn) error {
		running = nil
		tasks, err := s.listTasks(x, s.key(cluster.RecordTask, ""))
		for _, t := range tasks {
			if t.State == cluster.TaskRunning {
				running = append(running, t)
			}
		}
		return err
	})
	return running, err
}

// listTasks decodes the tasks under prefix, newest first.
func (s *Store) listTasks(x *txn, prefix string) ([]cluster.Task, error) {
	kvs, err := x.list(prefix)
	if err != nil {
		return nil, err
	}
	tasks := make([]cluster.Task, 0, len(kvs))
	for _, kv := range kvs {
		var t cluster.Task
		if err := json.Unmarshal(kv.Value, &t); err != nil {
			return nil, err
		}
		tasks = append(tasks, t)
	}
	cluster.SortTasks(tasks)
	return tasks, nil
}
