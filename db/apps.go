package db

import (
	"github.com/longshoreman/longshoreman/cluster"
	bolt "go.etcd.io/bbolt"
)

// Apps returns the sorted names of every app.
func (db *DB) Apps() ([]string, error) {
	names := []string{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketApps).ForEach(func(k, _ []byte) error {
			names = append(names, string(k))
			return nil
		})
	})
	return names, err
}

// AllApps returns every app, sorted by name.
func (db *DB) AllApps() ([]*cluster.App, error) {
	var apps []*cluster.App
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketApps).ForEach(func(k, _ []byte) error {
			app := &cluster.App{}
			if _, err := get(tx.Bucket(bucketApps), string(k), app); err != nil {
				return err
			}
			apps = append(apps, app)
			return nil
		})
	})
	return apps, err
}

// App returns the named app, or an ENOTFOUND error.
func (db *DB) App(name string) (*cluster.App, error) {
	var app *cluster.App
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		app, err = getApp(tx, name)
		return err
	})
	return app, err
}

func getApp(tx *bolt.Tx, name string) (*cluster.App, error) {
	app := &cluster.App{}
	ok, err := get(tx.Bucket(bucketApps), name, app)
	if err != nil {
		return nil, err
	} else if !ok {
		return nil, cluster.Errorf(cluster.ENOTFOUND, "App %s does not exist", name).WithFix("create it with", cluster.OpAddApp, cluster.ArgApp, name)
	}
	if app.Envs == nil {
		app.Envs = map[string]string{}
	}
	return app, nil
}

// CreateApp creates an app with no image and no envs. Creating one that
// exists is not an error; created reports whether it was new.
func (db *DB) CreateApp(name string) (created bool, err error) {
	if err := cluster.ValidateAppName(name); err != nil {
		return false, err
	}
	err = db.update(func(tx *bolt.Tx) error {
		apps := tx.Bucket(bucketApps)
		if apps.Get([]byte(name)) != nil {
			return nil
		}
		created = true
		return put(apps, name, &cluster.App{Name: name, Envs: map[string]string{}, Created: db.now().UTC()})
	})
	return created, err
}

// UpdateApp applies fn to the named app and stores the result in one
// transaction; fn's error aborts it. It returns the stored app.
func (db *DB) UpdateApp(name string, fn func(*cluster.App) error) (*cluster.App, error) {
	var app *cluster.App
	defer db.tableChanged() // the app's HTTPS setting is in the routing table
	err := db.update(func(tx *bolt.Tx) error {
		var err error
		if app, err = getApp(tx, name); err != nil {
			return err
		}
		if err := fn(app); err != nil {
			return err
		}
		return put(tx.Bucket(bucketApps), name, app)
	})
	return app, err
}

// DeleteApp removes the app with its revisions and instance records.
func (db *DB) DeleteApp(name string) error {
	defer db.instancesChanged()
	defer db.tableChanged()
	return db.update(func(tx *bolt.Tx) error {
		if _, err := getApp(tx, name); err != nil {
			return err
		}
		for _, b := range [][]byte{bucketRevisions, bucketInstances, bucketTasks, bucketJobs} {
			root := tx.Bucket(b)
			if root == nil {
				continue // no tasks or jobs yet in a file of an earlier release
			}
			if err := root.DeleteBucket([]byte(name)); err != nil && err != bolt.ErrBucketNotFound {
				return err
			}
		}
		return tx.Bucket(bucketApps).Delete([]byte(name))
	})
}
