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
		return tx.Bucket(bucketApps).ForEach(func(_, v []byte) error {
			app, err := db.keyring.DecodeApp(v)
			if err != nil {
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
		app, err = db.getApp(tx, name)
		return err
	})
	return app, err
}

// getApp reads an app, its env values opened.
func (db *DB) getApp(tx *bolt.Tx, name string) (*cluster.App, error) {
	buf := tx.Bucket(bucketApps).Get([]byte(name))
	if buf == nil {
		return nil, errNoApp(name)
	}
	app, err := db.keyring.DecodeApp(buf)
	if err != nil {
		return nil, err
	}
	if app.Envs == nil {
		app.Envs = map[string]string{}
	}
	return app, nil
}

// requireApp returns ENOTFOUND unless the app exists, without reading it.
func requireApp(tx *bolt.Tx, name string) error {
	if tx.Bucket(bucketApps).Get([]byte(name)) == nil {
		return errNoApp(name)
	}
	return nil
}

func errNoApp(name string) error {
	return cluster.Errorf(cluster.ENOTFOUND, "App %s does not exist", name).WithFix("create it with", cluster.OpAddApp, cluster.ArgApp, name)
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
		return db.putApp(tx, &cluster.App{Name: name, Envs: map[string]string{}, Created: db.now().UTC()})
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
		if app, err = db.getApp(tx, name); err != nil {
			return err
		}
		if err := fn(app); err != nil {
			return err
		}
		return db.putApp(tx, app)
	})
	return app, err
}

// putApp stores an app, its env values sealed.
func (db *DB) putApp(tx *bolt.Tx, app *cluster.App) error {
	buf, err := db.keyring.EncodeApp(app)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketApps).Put([]byte(app.Name), buf)
}

// DeleteApp removes the app with its revisions and instance records.
func (db *DB) DeleteApp(name string) error {
	defer db.instancesChanged()
	defer db.tableChanged()
	return db.update(func(tx *bolt.Tx) error {
		if err := requireApp(tx, name); err != nil {
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
