package db

import (
	"encoding/json"

	"github.com/longshoreman/longshoreman/cluster"
	bolt "go.etcd.io/bbolt"
)

// bucketTasks holds one nested bucket per app, task id -> cluster.Task
// JSON. A file of an earlier release has none until it is opened for
// writing; reads treat it as empty.
var bucketTasks = []byte(cluster.RecordTask)

// PutTask creates or replaces the record of task t and, in the same
// transaction, deletes the app's oldest beyond cluster.TaskHistory. The
// app must exist (ENOTFOUND).
func (db *DB) PutTask(t cluster.Task) error {
	return db.update(func(tx *bolt.Tx) error { return putTask(tx, t) })
}

// putTask is PutTask within tx.
func putTask(tx *bolt.Tx, t cluster.Task) error {
	if err := requireApp(tx, t.App); err != nil {
		return err
	}
	root, err := tx.CreateBucketIfNotExists(bucketTasks)
	if err != nil {
		return err
	}
	b, err := root.CreateBucketIfNotExists([]byte(t.App))
	if err != nil {
		return err
	}
	if err := put(b, t.ID, t); err != nil {
		return err
	}
	n := 0
	c := b.Cursor()
	for k, _ := c.First(); k != nil && n <= cluster.TaskHistory; k, _ = c.Next() {
		n++
	}
	if n <= cluster.TaskHistory {
		return nil
	}
	tasks, err := readTasks(b)
	if err != nil {
		return err
	}
	for _, old := range tasks[cluster.TaskHistory:] {
		if err := b.Delete([]byte(old.ID)); err != nil {
			return err
		}
	}
	return nil
}

// Task returns one task of app, or ENOTFOUND.
func (db *DB) Task(app, id string) (*cluster.Task, error) {
	var t *cluster.Task
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var buf []byte
		if b := appTasks(tx, app); b != nil {
			buf = b.Get([]byte(id))
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
func (db *DB) Tasks(app string) ([]cluster.Task, error) {
	tasks := []cluster.Task{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if err := requireApp(tx, app); err != nil {
			return err
		}
		b := appTasks(tx, app)
		if b == nil {
			return nil
		}
		var err error
		tasks, err = readTasks(b)
		return err
	})
	return tasks, err
}

// RunningTasks returns every app's tasks in state running.
func (db *DB) RunningTasks() ([]cluster.Task, error) {
	var running []cluster.Task
	err := db.bolt.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketTasks)
		if root == nil {
			return nil
		}
		return root.ForEachBucket(func(app []byte) error {
			tasks, err := readTasks(root.Bucket(app))
			for _, t := range tasks {
				if t.State == cluster.TaskRunning {
					running = append(running, t)
				}
			}
			return err
		})
	})
	return running, err
}

// appTasks returns app's bucket of tasks, nil when it has none.
func appTasks(tx *bolt.Tx, app string) *bolt.Bucket {
	root := tx.Bucket(bucketTasks)
	if root == nil {
		return nil
	}
	return root.Bucket([]byte(app))
}

// readTasks decodes every task of an app's bucket, newest first.
func readTasks(b *bolt.Bucket) ([]cluster.Task, error) {
	tasks := []cluster.Task{}
	err := b.ForEach(func(_, v []byte) error {
		var t cluster.Task
		if err := json.Unmarshal(v, &t); err != nil {
			return err
		}
		tasks = append(tasks, t)
		return nil
	})
	cluster.SortTasks(tasks)
	return tasks, err
}
