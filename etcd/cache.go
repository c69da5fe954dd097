package etcd

import (
	"encoding/json"
	"strings"

	"github.com/longshoreman/longshoreman/cluster"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// instanceCache is the in-memory copy of every app's instances that
// AllInstances serves: the API, the reconciler and the routing table read
// it far more often than it changes. It is loaded once, then kept current
// without reading etcd again: this process's writes apply their new value
// once committed, and the watch applies every other writer's. Each app's
// entry carries the etcd revision of its value, and a change older than
// what the entry (or the load) already holds is ignored, so the two sources
// may deliver the same change in either order.
type instanceCache struct {
	valid  bool
	rev    int64 // revision the load read at
	apps   map[string]appInstances
	sorted []cluster.Instance // every instance, as AllInstances returns them; nil: to rebuild
}

type appInstances struct {
	mod   int64 // revision of the value; an entry with no instances is a deletion
	insts []cluster.Instance
}

// apply records app's instances as of revision mod; the caller holds
// cacheMu. It reports whether the copy changed.
func (c *instanceCache) apply(app string, mod int64, insts []cluster.Instance) bool {
	if !c.valid || mod <= max(c.apps[app].mod, c.rev) {
		return false
	}
	c.apps[app] = appInstances{mod: mod, insts: insts}
	c.sorted = nil
	return true
}

// AllInstances returns every instance of every app, sorted by app, host and
// port, from the copy in memory.
func (s *Store) AllInstances() ([]cluster.Instance, error) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	c := &s.cache
	if !c.valid {
		apps := map[string]appInstances{}
		var rev int64
		err := s.view(func(t *txn) error {
			clear(apps)
			kvs, err := t.list(s.key(cluster.RecordInstance, ""))
			for _, kv := range kvs {
				var insts []cluster.Instance
				if err := json.Unmarshal(kv.Value, &insts); err != nil {
					return err
				}
				apps[strings.TrimPrefix(string(kv.Key), s.key(cluster.RecordInstance, ""))] = appInstances{mod: kv.ModRevision, insts: insts}
			}
			rev = t.rev
			return err
		})
		if err != nil {
			return nil, err
		}
		*c = instanceCache{valid: true, rev: rev, apps: apps}
	}
	if c.sorted == nil {
		c.sorted = []cluster.Instance{}
		for _, a := range c.apps {
			c.sorted = append(c.sorted, a.insts...)
		}
		cluster.SortInstances(c.sorted)
	}
	return append([]cluster.Instance(nil), c.sorted...), nil
}

// committed applies the instance values a write committed at rev.
func (s *Store) committed(rev int64, apps map[string][]cluster.Instance) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	for app, insts := range apps {
		s.cache.apply(app, rev, insts)
	}
	// Raised even when the copy was not loaded: RoutingTable remembers its
	// last table by this number.
	s.instancesGen.Add(1)
}

// watched applies a change the watch reports.
func (s *Store) watched(ev *mvccpb.Event) {
	prefix := s.key(cluster.RecordInstance, "")
	key := string(ev.Kv.Key)
	if s.tableKey(key) {
		s.tableGen.Add(1)
		return
	}
	if !strings.HasPrefix(key, prefix) {
		return
	}
	var insts []cluster.Instance
	if ev.Type == mvccpb.PUT {
		if err := json.Unmarshal(ev.Kv.Value, &insts); err != nil {
			s.instancesChanged() // read it again from etcd, which says what is wrong
			return
		}
	}
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if s.cache.apply(strings.TrimPrefix(key, prefix), ev.Kv.ModRevision, insts) {
		s.instancesGen.Add(1)
	}
}

// instancesChanged drops the copy, to be loaded again: for when the watch
// may have missed changes.
func (s *Store) instancesChanged() {
	s.cacheMu.Lock()
	s.cache = instanceCache{}
	s.instancesGen.Add(1)
	s.cacheMu.Unlock()
}
