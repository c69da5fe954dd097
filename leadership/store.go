package leadership

import (
	"context"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/scheduler"
)

// termStore is the store as one operation writes it (Leadership.Store):
// reads pass through; every write first checks that the operation's term
// is the one this controller leads in now, then goes to the term's store,
// which on etcd is conditioned on the term's election key in the same
// transaction. The check alone would leave a window between it and the
// write; the etcd condition closes it, and on a data file there is one
// term for the process's life.
//
// Every method of scheduler.Store that writes must be listed here: an
// embedded write would pass unfenced. store_test.go fails for a method
// it does not know to be a read or a fenced write.
type termStore struct {
	scheduler.Store
	l   *Leadership
	ctx context.Context
}

func (s termStore) fence(what string) error {
	_, err := s.l.check(s.ctx, what)
	return err
}

func (s termStore) CreateApp(name string) (bool, error) {
	if err := s.fence("Creating app " + name); err != nil {
		return false, err
	}
	return s.Store.CreateApp(name)
}

func (s termStore) UpdateApp(name string, fn func(*cluster.App) error) (*cluster.App, error) {
	if err := s.fence("A write of app " + name); err != nil {
		return nil, err
	}
	return s.Store.UpdateApp(name, fn)
}

func (s termStore) DeleteApp(name string) error {
	if err := s.fence("The deletion of app " + name); err != nil {
		return err
	}
	return s.Store.DeleteApp(name)
}

func (s termStore) AddHost(addr string) (bool, error) {
	if err := s.fence("Adding host " + addr); err != nil {
		return false, err
	}
	return s.Store.AddHost(addr)
}

func (s termStore) RemoveHost(addr string) error {
	if err := s.fence("Removing host " + addr); err != nil {
		return err
	}
	return s.Store.RemoveHost(addr)
}

func (s termStore) SetDraining(addr string, draining bool) error {
	if err := s.fence("Marking host " + addr + " draining"); err != nil {
		return err
	}
	return s.Store.SetDraining(addr, draining)
}

func (s termStore) CreateRevision(rev *cluster.Revision) error {
	if err := s.fence("Recording a revision of " + rev.App); err != nil {
		return err
	}
	return s.Store.CreateRevision(rev)
}

func (s termStore) FinishRevision(app string, number int, status, reason string) (*cluster.Revision, error) {
	if err := s.fence("Recording the outcome of a revision of " + app); err != nil {
		return nil, err
	}
	return s.Store.FinishRevision(app, number, status, reason)
}

func (s termStore) RecordOOM(app string, number int, at time.Time) error {
	if err := s.fence("Recording a kill for memory of " + app); err != nil {
		return err
	}
	return s.Store.RecordOOM(app, number, at)
}

func (s termStore) PutTask(t cluster.Task) error {
	if err := s.fence("Recording task " + t.ID + " of " + t.App); err != nil {
		return err
	}
	return s.Store.PutTask(t)
}

func (s termStore) PutInstance(inst cluster.Instance) error {
	if err := s.fence("Recording an instance of " + inst.App); err != nil {
		return err
	}
	return s.Store.PutInstance(inst)
}

func (s termStore) SetRouted(app string, ids []string, routed bool) error {
	if err := s.fence("Routing or unrouting instances of " + app); err != nil {
		return err
	}
	return s.Store.SetRouted(app, ids, routed)
}

func (s termStore) Retire(app string, ids []string) (uint64, error) {
	if err := s.fence("Retiring instances of " + app); err != nil {
		return 0, err
	}
	return s.Store.Retire(app, ids)
}

func (s termStore) DeleteInstance(app, id string) error {
	if err := s.fence("Forgetting an instance of " + app); err != nil {
		return err
	}
	return s.Store.DeleteInstance(app, id)
}

func (s termStore) CreateJob(j cluster.Job) error {
	if err := s.fence("Creating job " + j.Name + " of " + j.App); err != nil {
		return err
	}
	return s.Store.CreateJob(j)
}

func (s termStore) DeleteJob(app, name string) error {
	if err := s.fence("Removing job " + name + " of " + app); err != nil {
		return err
	}
	return s.Store.DeleteJob(app, name)
}

func (s termStore) UpdateJob(app, name string, fn func(*cluster.Job) error, task *cluster.Task) (*cluster.Job, error) {
	if err := s.fence("Recording a run of job " + name + " of " + app); err != nil {
		return nil, err
	}
	return s.Store.UpdateJob(app, name, fn, task)
}
