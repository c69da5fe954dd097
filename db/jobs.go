package db

import (
	"encoding/json"

	"github.com/longshoreman/longshoreman/cluster"
	bolt "go.etcd.io/bbolt"
)

// bucketJobs holds one nested bucket per app, job name -> cluster.Job
// JSON. A file of an earlier release has none until it is opened for
// writing; reads treat it as empty.
var bucketJobs = []byte(cluster.RecordJob)

// CreateJob stores a new job; ECONFLICT when the app has one of that name,
// EINVALID when it has cluster.MaxJobs, ENOTFOUND for an unknown app.
func (db *DB) CreateJob(j cluster.Job) error {
	return db.update(func(tx *bolt.Tx) error {
		if err := requireApp(tx, j.App); err != nil {
			return err
		}
		root, err := tx.CreateBucketIfNotExists(bucketJobs)
		if err != nil {
			return err
		}
		b, err := root.CreateBucketIfNotExists([]byte(j.App))
		if err != nil {
			return err
		}
		if b.Get([]byte(j.Name)) != nil {
			return cluster.JobExists(j.App, j.Name)
		}
		if n := b.Stats().KeyN; n >= cluster.MaxJobs {
			return cluster.TooManyJobs(j.App)
		}
		return put(b, j.Name, j)
	})
}

// DeleteJob removes a job; ENOTFOUND when there is none.
func (db *DB) DeleteJob(app, name string) error {
	return db.update(func(tx *bolt.Tx) error {
		b := appJobs(tx, app)
		if b == nil || b.Get([]byte(name)) == nil {
			return cluster.NoJob(app, name)
		}
		return b.Delete([]byte(name))
	})
}

// Job returns one job of app, or ENOTFOUND.
func (db *DB) Job(app, name string) (*cluster.Job, error) {
	var j *cluster.Job
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		j, err = getJob(tx, app, name)
		return err
	})
	return j, err
}

// Jobs returns app's jobs by name; ENOTFOUND for an unknown app.
func (db *DB) Jobs(app string) ([]cluster.Job, error) {
	jobs := []cluster.Job{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if err := requireApp(tx, app); err != nil {
			return err
		}
		var err error
		jobs, err = readJobs(appJobs(tx, app), jobs)
		return err
	})
	return jobs, err
}

// AllJobs returns every app's jobs, by app and name.
func (db *DB) AllJobs() ([]cluster.Job, error) {
	var jobs []cluster.Job
	err := db.bolt.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketJobs)
		if root == nil {
			return nil
		}
		return root.ForEachBucket(func(app []byte) error {
			var err error
			jobs, err = readJobs(root.Bucket(app), jobs)
			return err
		})
	})
	cluster.SortJobs(jobs)
	return jobs, err
}

// UpdateJob changes a job with fn and records task, when given, in one
// transaction (see cluster.JobStore).
func (db *DB) UpdateJob(app, name string, fn func(*cluster.Job) error, task *cluster.Task) (*cluster.Job, error) {
	var j *cluster.Job
	err := db.update(func(tx *bolt.Tx) error {
		var err error
		if j, err = getJob(tx, app, name); err != nil {
			return err
		}
		if err := fn(j); err != nil {
			return err
		}
		if err := put(appJobs(tx, app), name, j); err != nil {
			return err
		}
		if task != nil {
			return putTask(tx, *task)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return j, nil
}

func getJob(tx *bolt.Tx, app, name string) (*cluster.Job, error) {
	j := &cluster.Job{}
	b := appJobs(tx, app)
	if b == nil {
		return nil, cluster.NoJob(app, name)
	}
	ok, err := get(b, name, j)
	if err != nil {
		return nil, err
	} else if !ok {
		return nil, cluster.NoJob(app, name)
	}
	return j, nil
}

// appJobs returns app's bucket of jobs, nil when it has none.
func appJobs(tx *bolt.Tx, app string) *bolt.Bucket {
	root := tx.Bucket(bucketJobs)
	if root == nil {
		return nil
	}
	return root.Bucket([]byte(app))
}

// readJobs appends the jobs of b (which may be nil) to jobs, by name.
func readJobs(b *bolt.Bucket, jobs []cluster.Job) ([]cluster.Job, error) {
	if b == nil {
		return jobs, nil
	}
	err := b.ForEach(func(_, v []byte) error {
		var j cluster.Job
		if err := json.Unmarshal(v, &j); err != nil {
			return err
		}
		jobs = append(jobs, j)
		return nil
	})
	return jobs, err
}
