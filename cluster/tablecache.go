package cluster

import (
	"sync"
	"time"
)

// TableCache keeps the routing table a store built last, with the
// generations of the writes it had seen (its instances' and those of the
// other records the table shows), so that the store answers the same table,
// at the same version, while nothing the table shows was written. Its lock
// also serializes the building of tables, so that versions rise one change
// at a time.
type TableCache struct {
	mu    sync.Mutex
	valid bool
	gen   [2]uint64
	table RoutingTable
}

// Lock takes the cache for building a table; Unlock gives it back.
func (c *TableCache) Lock()   { c.mu.Lock() }
func (c *TableCache) Unlock() { c.mu.Unlock() }

// Get returns the table kept for gen, stamped with now, and whether there
// is one; the caller holds the lock.
func (c *TableCache) Get(gen [2]uint64, now time.Time) (RoutingTable, bool) {
	if !c.valid || c.gen != gen {
		return RoutingTable{}, false
	}
	t := c.table
	t.Time = now.UTC()
	return t, true
}

// Put keeps table as the one built for gen; the caller holds the lock.
func (c *TableCache) Put(gen [2]uint64, table RoutingTable) {
	c.valid, c.gen, c.table = true, gen, table
}

// Forget drops the table kept, for a write that may change the stored
// version (a restore, a new epoch).
func (c *TableCache) Forget() {
	c.mu.Lock()
	c.valid = false
	c.mu.Unlock()
}

// AddApp adds to t what app's settings bring beside its routes: HTTPS,
// maintenance, a hold, a canary (of insts), limits at the edge.
func AddApp(t *RoutingTable, app *App, insts []Instance) {
	AddHTTPS(t, app)
	AddMaintenance(t, app)
	AddHeld(t, app)
	AddCanary(t, app, insts)
	AddLimits(t, app)
}
