package main

import (
	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/etcd"
	"github.com/longshoreman/longshoreman/leadership"
)

// newLeadership returns the leadership of a controller on store: elected
// among the controllers of its prefix on an etcd store, always leading on
// a data file. events is told of its gains and losses.
func newLeadership(store cluster.Store, cfg etcd.ElectionConfig, events func(cluster.Event)) *leadership.Leadership {
	lcfg := leadership.Config{Store: store, ID: cfg.ID, Events: events}
	if s, ok := store.(*etcd.Store); ok {
		lcfg.Election = s.NewElection(cfg)
	}
	return leadership.New(lcfg)
}
