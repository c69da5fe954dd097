package etcd

import (
	"encoding/json"
	"strings"

	"github.com/longshoreman/longshoreman/cluster"
)

// Apps returns the sorted names of every app.
func (s *Store) Apps() ([]string, error) { return s.names(cluster.RecordApp) }

// names returns the sorted names of the records of one kind: the rest of
// their keys after the kind's prefix.
func (s *Store) names(kind string) ([]string, error) {
	names := []string{}
	prefix := s.key(kind, "")
	err := s.view(func(t *txn) error {
		names = names[:0]
		kvs, err := t.list(prefix)
		for _, kv := range kvs {
			names = append(names, strings.TrimPrefix(string(kv.Key), prefix))
		}
		return err
	})
	return names, err
}

// AllApps returns every app, sorted by name.
func (s *Store) AllApps() ([]*cluster.App, error) {
	var apps []*cluster.App
	err := s.view(func(t *txn) error {
		apps = nil
		kvs, err := t.list(s.key(cluster.RecordApp, ""))
		for _, kv := range kvs {
			app, err := s.keyring.DecodeApp(kv.Value)
			if err != nil {
				return err
			}
			apps = append(apps, app)
		}
		return err
	})
	return apps, err
}

// App returns the named app, or an ENOTFOUND error.
func (s *Store) App(name string) (*cluster.App, error) {
	var app *cluster.App
	err := s.view(func(t *txn) error {
		var err error
		app, err = s.getApp(t, name)
		return err
	})
	return app, err
}

// getApp reads an app, its env values opened, and guards the txn by it.
func (s *Store) getApp(t *txn, name string) (*cluster.App, error) {
	buf, err := t.get(s.key(cluster.RecordApp, name))
	if err != nil {
		return nil, err
	}
	if buf == nil {
		return nil, errNoApp(name)
	}
	app, err := s.keyring.DecodeApp(buf)
	if err != nil {
		return nil, err
	}
	if app.Envs == nil {
		app.Envs = map[string]string{}
	}
	return app, nil
}

// requireApp returns ENOTFOUND unless the app exists, and guards the txn
// by it, without opening its env values.
func (s *Store) requireApp(t *txn, name string) error {
	buf, err := t.get(s.key(cluster.RecordApp, name))
	if err == nil && buf == nil {
		err = errNoApp(name)
	}
	return err
}

func errNoApp(name string) error {
	return cluster.Errorf(cluster.ENOTFOUND, "App %s does not exist: create it with POST /apps {\"app\": %q}, or list apps with GET /apps.", name, name)
}

// putApp stores an app, its env values sealed.
func (s *Store) putApp(t *txn, app *cluster.App) error {
	buf, err := s.keyring.EncodeApp(app)
	if err != nil {
		return err
	}
	t.put(s.key(cluster.RecordApp, app.Name), buf)
	return nil
}

// CreateApp creates an app with no image and no envs. Creating one that
// exists is not an error; created reports whether it was new.
func (s *Store) CreateApp(name string) (created bool, err error) {
	if err := cluster.ValidateAppName(name); err != nil {
		return false, err
	}
	err = s.update(func(t *txn) error {
		buf, err := t.get(s.key(cluster.RecordApp, name))
		if created = buf == nil; err != nil || !created {
			return err
		}
		return s.putApp(t, &cluster.App{Name: name, Envs: map[string]string{}, Created: s.now().UTC()})
	})
	return created, err
}

// UpdateApp applies fn to the named app and stores the result in one
// transaction; fn's error aborts it. fn may run more than once when
// another writer changed the app meanwhile. It returns the stored app.
func (s *Store) UpdateApp(name string, fn func(*cluster.App) error) (*cluster.App, error) {
	var app *cluster.App
	err := s.update(func(t *txn) error {
		var err error
		if app, err = s.getApp(t, name); err != nil {
			return err
		}
		if err := fn(app); err != nil {
			return err
		}
		return s.putApp(t, app)
	})
	return app, err
}

// DeleteApp removes the app with its revisions, instance records and
// tasks and jobs in five operations: the app's key, its instances key,
// and one range delete each of its revisions, its tasks and its jobs,
// whatever their number.
func (s *Store) DeleteApp(name string) error {
	return s.update(func(t *txn) error {
		if err := s.requireApp(t, name); err != nil {
			return err
		}
		t.del(s.key(cluster.RecordApp, name))
		t.del(s.key(cluster.RecordInstance, name))
		t.delPrefix(s.key(cluster.RecordRevision, name, ""))
		t.delPrefix(s.key(cluster.RecordTask, name, ""))
		t.delPrefix(s.key(cluster.RecordJob, name, ""))
		t.instances[name] = nil
		return nil
	})
}

func putJSON(t *txn, key string, v any) error {
	buf, err := json.Marshal(v)
	if err != nil {
		return err
	}
	t.put(key, buf)
	return nil
}

// Hosts returns every host, sorted by address bytes.
func (s *Store) Hosts() ([]cluster.Host, error) {
	hosts := []cluster.Host{}
	err := s.view(func(t *txn) error {
		hosts = hosts[:0]
		kvs, err := t.list(s.key(cluster.RecordHost, ""))
		for _, kv := range kvs {
			var h cluster.Host
			if err := json.Unmarshal(kv.Value, &h); err != nil {
				return err
			}
			hosts = append(hosts, h)
		}
		return err
	})
	return hosts, err
}

// AddHost records a host. Adding a known one is not an error; created
// reports whether it was new. addr must be canonical (cluster.ValidateHost).
func (s *Store) AddHost(addr string) (created bool, err error) {
	err = s.update(func(t *txn) error {
		buf, err := t.get(s.key(cluster.RecordHost, addr))
		if created = buf == nil; err != nil || !created {
			return err
		}
		return putJSON(t, s.key(cluster.RecordHost, addr), cluster.Host{Addr: addr, Added: s.now().UTC()})
	})
	return created, err
}

// HasHost reports whether addr is a known host.
func (s *Store) HasHost(addr string) (bool, error) {
	var ok bool
	err := s.view(func(t *txn) error {
		buf, err := t.get(s.key(cluster.RecordHost, addr))
		ok = buf != nil
		return err
	})
	return ok, err
}

// SetDraining marks a host as draining or not; ENOTFOUND when unknown.
func (s *Store) SetDraining(addr string, draining bool) error {
	return s.update(func(t *txn) error {
		buf, err := s.readHost(t, addr)
		if err != nil {
			return err
		}
		var h cluster.Host
		if err := json.Unmarshal(buf, &h); err != nil {
			return err
		}
		h.Draining = draining
		return putJSON(t, s.key(cluster.RecordHost, addr), h)
	})
}

// RemoveHost forgets a host; ENOTFOUND when unknown.
func (s *Store) RemoveHost(addr string) error {
	return s.update(func(t *txn) error {
		if _, err := s.readHost(t, addr); err != nil {
			return err
		}
		t.del(s.key(cluster.RecordHost, addr))
		return nil
	})
}

// readHost reads a host's record in t; ENOTFOUND when unknown.
func (s *Store) readHost(t *txn, addr string) ([]byte, error) {
	buf, err := t.get(s.key(cluster.RecordHost, addr))
	if err == nil && buf == nil {
		err = errUnknownHost(addr)
	}
	return buf, err
}

func errUnknownHost(addr string) error {
	return cluster.Errorf(cluster.ENOTFOUND, "Host %s is not in the cluster: list hosts with GET /hosts.", addr)
}

// PutRegistry stores or replaces the credentials of one registry, its
// password sealed.
func (s *Store) PutRegistry(r cluster.Registry) error {
	buf, err := s.keyring.EncodeRegistry(r)
	if err != nil {
		return err
	}
	return s.update(func(t *txn) error {
		t.put(s.key(cluster.RecordRegistry, r.Address), buf)
		return nil
	})
}

// DeleteRegistry forgets a registry's credentials; ENOTFOUND when none.
func (s *Store) DeleteRegistry(addr string) error {
	return s.update(func(t *txn) error {
		buf, err := t.get(s.key(cluster.RecordRegistry, addr))
		if err != nil {
			return err
		} else if buf == nil {
			return cluster.Errorf(cluster.ENOTFOUND, "No credentials are stored for registry %s: list them with GET /registries.", addr)
		}
		t.del(s.key(cluster.RecordRegistry, addr))
		return nil
	})
}

// Registries returns the addresses of the registries with credentials,
// sorted; never the credentials.
func (s *Store) Registries() ([]string, error) { return s.names(cluster.RecordRegistry) }

// RegistryAuth returns the credentials stored for a registry.
func (s *Store) RegistryAuth(addr string) (username, password string, ok bool) {
	_ = s.view(func(t *txn) error {
		buf, err := t.get(s.key(cluster.RecordRegistry, addr))
		if err != nil || buf == nil {
			return err
		}
		if r, err := s.keyring.DecodeRegistry(buf); err == nil {
			username, password, ok = r.Username, r.Password, true
		}
		return nil
	})
	return username, password, ok
}
