package etcd

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/longshoreman/longshoreman/cluster"
)

// getInstances reads an app's instances key: a JSON array kept sorted.
func (s *Store) getInstances(t *txn, app string) ([]cluster.Instance, error) {
	buf, err := t.get(s.key(cluster.RecordInstance, app))
	if err != nil || buf == nil {
		return nil, err
	}
	var insts []cluster.Instance
	return insts, json.Unmarshal(buf, &insts)
}

// putInstances writes an app's instances key, or deletes it when empty.
func (s *Store) putInstances(t *txn, app string, insts []cluster.Instance) error {
	if len(insts) == 0 {
		t.instances[app] = nil
		t.del(s.key(cluster.RecordInstance, app))
		return nil
	}
	cluster.SortInstances(insts)
	t.instances[app] = insts
	return putJSON(t, s.key(cluster.RecordInstance, app), insts)
}

// editInstances applies edit to app's instances in one Txn.
func (s *Store) editInstances(app string, edit func([]cluster.Instance) []cluster.Instance) error {
	return s.update(func(t *txn) error {
		insts, err := s.getInstances(t, app)
		if err != nil || insts == nil {
			return err
		}
		return s.putInstances(t, app, edit(insts))
	})
}

// PutInstance stores or replaces an instance record. The app must exist.
func (s *Store) PutInstance(inst cluster.Instance) error {
	return s.update(func(t *txn) error {
		if err := s.requireApp(t, inst.App); err != nil {
			return err
		}
		insts, err := s.getInstances(t, inst.App)
		if err != nil {
			return err
		}
		i := indexOf(insts, inst.ID)
		if i < 0 {
			insts = append(insts, inst)
		} else {
			insts[i] = inst
		}
		return s.putInstances(t, inst.App, insts)
	})
}

func indexOf(insts []cluster.Instance, id string) int {
	for i := range insts {
		if insts[i].ID == id {
			return i
		}
	}
	return -1
}

// SetRouted marks instances of app as routed or not, in one put.
// Unknown ids are ignored.
func (s *Store) SetRouted(app string, ids []string, routed bool) error {
	return s.setEach(app, ids, func(inst *cluster.Instance) { inst.Routed = routed })
}

func (s *Store) setEach(app string, ids []string, edit func(*cluster.Instance)) error {
	set := map[string]bool{}
	for _, id := range ids {
		set[id] = true
	}
	return s.editInstances(app, func(insts []cluster.Instance) []cluster.Instance {
		for i := range insts {
			if set[insts[i].ID] {
				edit(&insts[i])
			}
		}
		return insts
	})
}

// DeleteInstance removes an instance record; an unknown one is no error.
func (s *Store) DeleteInstance(app, id string) error {
	return s.editInstances(app, func(insts []cluster.Instance) []cluster.Instance {
		if i := indexOf(insts, id); i >= 0 {
			return append(insts[:i], insts[i+1:]...)
		}
		return insts
	})
}

// Retire unroutes instances of app and marks them retiring, then records
// the version of the first routing table without them, which it returns
// (as db.DB.Retire does).
func (s *Store) Retire(app string, ids []string) (uint64, error) {
	if err := s.setEach(app, ids, func(inst *cluster.Instance) { inst.Routed, inst.Retiring = false, true }); err != nil {
		return 0, err
	}
	table, err := s.RoutingTable()
	if err != nil {
		return 0, err
	}
	return table.Version, s.setEach(app, ids, func(inst *cluster.Instance) { inst.RetireAfter = max(inst.RetireAfter, table.Version) })
}

// Instances returns the app's instances sorted by host and port.
func (s *Store) Instances(app string) ([]cluster.Instance, error) {
	insts := []cluster.Instance{}
	err := s.view(func(t *txn) error {
		if err := s.requireApp(t, app); err != nil {
			return err
		}
		got, err := s.getInstances(t, app)
		insts = append(insts[:0], got...)
		return err
	})
	return insts, err
}

// RoutingTable returns the table of routed instances. When the routes
// differ from the stored ones, the version is raised and stored with their
// hash in one Txn guarded by both keys, so versions rise one change at a
// time across every controller on the prefix.
func (s *Store) RoutingTable() (cluster.RoutingTable, error) {
	s.routes.Lock()
	defer s.routes.Unlock()
	gen := [2]uint64{s.instancesGen.Load(), s.tableGen.Load()}
	if table, ok := s.routes.Get(gen, s.now()); ok {
		return table, nil
	}
	insts, err := s.AllInstances()
	if err != nil {
		return cluster.RoutingTable{}, err
	}
	var table cluster.RoutingTable
	err = s.update(func(t *txn) error {
		table = cluster.RoutingTable{Controller: s.controller, Cluster: s.cluster, Epoch: s.epoch.Load(), Time: s.now().UTC(), Routes: map[string][]string{}}
		for _, inst := range insts {
			if inst.Routed {
				table.Routes[inst.App] = append(table.Routes[inst.App], inst.Addr())
			}
		}
		version, err := t.get(s.metaKey(keyRoutesVersion))
		if err != nil {
			return err
		}
		stored, err := t.get(s.metaKey(keyRoutes))
		if err != nil {
			return err
		}
		apps, err := t.list(s.key(cluster.RecordApp, ""))
		if err != nil {
			return err
		}
		for _, kv := range apps {
			var app cluster.App
			if err := json.Unmarshal(kv.Value, &app); err != nil {
				return err
			}
			cluster.AddApp(&table, &app, insts)
		}
		if err := s.getMetaJSON(t, keyChallenges, &table.Challenges); err != nil {
			return err
		}
		certs, err := t.get(s.metaKey(keyCertsVersion))
		if err != nil {
			return err
		}
		table.Certs, _ = strconv.ParseUint(string(certs), 10, 64)
		table.Version, _ = strconv.ParseUint(string(version), 10, 64)
		sum := cluster.TableSum(table)
		if table.Version != 0 && bytes.Equal(sum, stored) {
			return nil
		}
		table.Version++
		t.put(s.metaKey(keyRoutes), sum)
		t.put(s.metaKey(keyRoutesVersion), []byte(strconv.FormatUint(table.Version, 10)))
		return nil
	})
	if err == nil {
		s.routes.Put(gen, table)
	}
	return table, err
}
