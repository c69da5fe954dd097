package http

import (
	"context"
	"net/http"
	"sort"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

// HostMemory reports the hosts' total memory, in bytes, for the hosts
// that answer.
type HostMemory interface {
	HostMemory(ctx context.Context) map[string]int64
}

// ImageDisk reports the bytes the images take on each host that answers.
type ImageDisk interface {
	ImageDisk(ctx context.Context) map[string]int64
}

// overview answers the whole cluster in one read, for the dashboard: each
// host's state (as the reconciler last saw it) and load, each app's
// health against its desired count and its last deploy, and every
// instance. It is served by the leader, which alone watches the hosts.
func (s *Server) overview(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	hosts, err := s.Store.Hosts()
	if err != nil {
		return err
	}
	apps, err := s.Store.AllApps()
	if err != nil {
		return err
	}
	insts, err := s.Store.AllInstances()
	if err != nil {
		return err
	}
	var status map[string]string
	if s.Hosts != nil {
		status = s.Hosts.HostStatus(r.Context())
	}
	var total, disk map[string]int64
	if s.Memory != nil {
		total = s.Memory.HostMemory(r.Context())
	}
	if s.Disk != nil {
		disk = s.Disk.ImageDisk(r.Context())
	}
	out := OverviewResponse{Hosts: make([]HostOverview, 0, len(hosts)), Apps: make([]AppOverview, 0, len(apps))}
	byHost := map[string]*HostOverview{}
	for _, h := range hosts {
		st := status[h.Addr]
		if st == "" {
			st = "not checked yet"
		}
		out.Hosts = append(out.Hosts, HostOverview{Addr: h.Addr, Added: h.Added, Draining: h.Draining, Status: st, MemoryTotal: cluster.Bytes(total[h.Addr]),
			ImagesDisk: cluster.Bytes(disk[h.Addr])})
	}
	for i := range out.Hosts {
		byHost[out.Hosts[i].Addr] = &out.Hosts[i]
	}
	byApp := map[string][]InstanceOverview{}
	healthy := map[string]int{}
	for _, i := range insts {
		if h := byHost[i.Host]; h != nil {
			h.Instances++
			h.Memory += i.Memory
		}
		health := "unhealthy"
		switch {
		case i.Retiring:
			health = "retiring"
		case i.Routed:
			health = "healthy"
			healthy[i.App]++
		}
		byApp[i.App] = append(byApp[i.App], InstanceOverview{ID: i.ID, Addr: i.Addr(), Host: i.Host, Revision: i.Revision, Health: health, Started: i.Started})
	}
	for _, a := range apps {
		ao, err := s.appOverview(a, byApp[a.Name], healthy[a.Name])
		if err != nil {
			return err
		}
		if ao.Last != nil {
			ao.Last.Envs = callerOf(w).envsOf(a.Name, ao.Last.Envs)
		}
		out.Apps = append(out.Apps, ao)
	}
	sort.Slice(out.Apps, func(i, j int) bool { return out.Apps[i].App < out.Apps[j].App })
	ok(w, out)
	return nil
}

// appOverview is app a in the overview, with its instances insts (healthy
// of them routed) and its last revision.
func (s *Server) appOverview(a *cluster.App, insts []InstanceOverview, healthy int) (AppOverview, error) {
	ao := AppOverview{App: a.Name, Image: a.Image, Revision: a.Revision, Count: a.Count, Healthy: healthy,
		Port: a.Port, HealthCheck: a.HealthCheck, Instances: insts, Volumes: a.Volumes, Hosts: a.Hosts}
	if ao.Instances == nil {
		ao.Instances = []InstanceOverview{}
	}
	if a.Maintenance.Enabled {
		m := a.Maintenance
		ao.Maintenance = &m
	}
	sort.Slice(ao.Instances, func(i, j int) bool { return ao.Instances[i].Addr < ao.Instances[j].Addr })
	revs, err := s.Store.Revisions(a.Name)
	if err != nil {
		return ao, err
	}
	if len(revs) > 0 {
		rev := revs[0]
		ao.Last = &HistoryEntry{Revision: rev.Number, Timestamp: rev.Time.Unix(), App: rev.App, Image: rev.Image, Count: rev.Count,
			Status: rev.Status, Reason: rev.Reason, Envs: rev.Envs, Current: rev.Number == a.Revision}
	}
	ao.State = appState(a, ao)
	return ao, nil
}

// appState sums an app up in a word for the dashboard.
func appState(a *cluster.App, o AppOverview) string {
	switch {
	case a.Deleting:
		return "deleting"
	case o.Last != nil && o.Last.Status == cluster.StatusDeploying:
		return "deploying"
	case !a.Deployed():
		return "new"
	case a.Count == 0:
		return "stopped"
	case o.Healthy < a.Count:
		return "degraded"
	}
	return "running"
}
