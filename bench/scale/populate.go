package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/docker"
	"github.com/longshoreman/longshoreman/scheduler"
)

// benchImage names a registry host so that the reference Docker pulls is
// the one containers are created from (no docker.io normalisation).
const benchImage = "127.0.0.1:5000/bench/app:1"

const perApp = 10

// populateScheduler creates the apps and deploys each with 10 instances
// through the real scheduler: placement, pull, create, start, health check
// and routing, all against the fake engines.
func populateScheduler(s *scheduler.Scheduler, store *db.DB, apps, parallel int) error {
	for i := range apps {
		if _, err := store.CreateApp(appName(i)); err != nil {
			return err
		}
	}
	return forEach(apps, parallel, func(i int) error {
		_, err := s.Deploy(context.Background(), appName(i), cluster.DeployRequest{Image: benchImage, Count: perApp}, nil)
		if err != nil {
			return fmt.Errorf("deploying %s: %v", appName(i), err)
		}
		return nil
	})
}

// populateDB builds the same state faster: each container is created and
// started through the real Docker adapter on the host a deploy would pick
// (each app spread over 10 distinct hosts, hosts evenly loaded), and the
// revision and instance records are written through db, as the scheduler
// writes them, without the per-deploy placement pings and health checks.
func populateDB(store *db.DB, engines *docker.Engines, apps, hosts int) error {
	ctx := context.Background()
	if err := forEach(hosts, 16, func(h int) error {
		_, err := engines.Pull(ctx, hostAddr(h), benchImage)
		return err
	}); err != nil {
		return err
	}
	return forEach(apps, 16, func(i int) error {
		name := appName(i)
		if _, err := store.CreateApp(name); err != nil {
			return err
		}
		rev := &cluster.Revision{App: name, Image: benchImage, Envs: []string{}, Count: perApp, Port: cluster.DefaultPort,
			HealthCheck: cluster.HealthCheck{}.WithDefaults(), Status: cluster.StatusDeploying}
		if err := store.CreateRevision(rev); err != nil {
			return err
		}
		for j := range perApp {
			host := hostAddr((i*perApp + j) % hosts)
			ct, err := engines.Run(ctx, cluster.ContainerSpec{
				App: name, Revision: rev.Number, Host: host, Controller: store.ControllerID(),
				Image: benchImage, Env: rev.Envs, Port: rev.Port,
			})
			if err != nil {
				return err
			}
			inst := cluster.Instance{ID: ct.ID, App: name, Revision: rev.Number, Host: host, Port: ct.Port, Routed: true, Started: rev.Time}
			if err := store.PutInstance(inst); err != nil {
				return err
			}
		}
		_, err := store.FinishRevision(name, rev.Number, cluster.StatusSucceeded, "")
		return err
	})
}

// forEach runs fn(0..n-1) on up to parallel goroutines and returns the
// first errors joined.
func forEach(n, parallel int, fn func(i int) error) error {
	work := make(chan int)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range max(1, parallel) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := fn(i); err != nil {
					mu.Lock()
					if len(errs) < 5 {
						errs = append(errs, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%w (first %s failures shown)", errors.Join(errs...), strconv.Itoa(len(errs)))
	}
	return nil
}
