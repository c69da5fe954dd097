//go:build integration

package scheduler_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	dockerclient "github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"
	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/etcd"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/storetest"
)

// BenchmarkDeploy measures a fresh deploy of count instances against its
// floor, measured side by side in each iteration: the same containers
// created and started in parallel straight through the Docker API and
// polled every 5ms until their first 2xx. It reports both times and their
// ratio (goal: at most 1.3), with the cluster's state in a data file and,
// in the same run, on the test etcd cluster.
//
//	scripts/test -run '^$' -bench BenchmarkDeploy -benchtime 5x ./scheduler/
func BenchmarkDeploy(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) *TestCluster
	}{
		{"file", func(b *testing.B) *TestCluster { return MustOpenCluster(b) }},
		{"etcd", func(b *testing.B) *TestCluster { return MustOpenClusterOn(b, openEtcd(b)) }},
	}
	for _, count := range []int{1, 3, 6} {
		for _, st := range stores {
			b.Run(fmt.Sprintf("count=%d/store=%s", count, st.name), func(b *testing.B) {
				c := st.open(b)
				image := testenv.Registry(b) + "/longshoreman-testapp:1"
				var deployTotal, floorTotal time.Duration
				for i := 0; i < b.N; i++ {
					floorTotal += floor(b, c, image, count)
					app := c.App(b, "bench")
					start := time.Now()
					c.MustDeploy(b, app, image, count)
					deployTotal += time.Since(start)
					b.StopTimer()
					c.Kill(context.Background(), app)
					b.StartTimer()
				}
				b.ReportMetric(float64(deployTotal.Milliseconds())/float64(b.N), "deploy-ms")
				b.ReportMetric(float64(floorTotal.Milliseconds())/float64(b.N), "floor-ms")
				b.ReportMetric(float64(deployTotal)/float64(floorTotal), "ratio")
			})
		}
	}
}

// openEtcd opens a store under a prefix of its own on the test etcd
// cluster, deleted at the end.
func openEtcd(b *testing.B) cluster.Store {
	b.Helper()
	endpoints := testenv.Etcd(b)
	prefix := fmt.Sprintf("/longshoreman-bench/%d", time.Now().UnixNano())
	cfg, err := etcd.ParseURL("etcd://"+strings.Join(endpoints, ",")+prefix, func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	cfg.Create, cfg.SecretsKey = true, storetest.SecretsKey
	s, err := etcd.Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// floor creates and starts count containers on the hosts in parallel
// through the Docker client, waits until each answers 2xx on /ping, and
// returns how long that took; the containers are removed untimed.
func floor(b *testing.B, c *TestCluster, image string, count int) time.Duration {
	b.Helper()
	app := testenv.UniqueApp(b, "floor")
	ids := make([]string, count)
	hosts := make([]string, count)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range count {
		host := c.Hosts[i%len(c.Hosts)]
		hosts[i] = host
		wg.Go(func() {
			cli, err := dockerclient.NewClientWithOpts(dockerclient.WithHost("tcp://"+host+":"+strconv.Itoa(testenv.DockerPort(b))), dockerclient.WithAPIVersionNegotiation())
			if err != nil {
				b.Error(err)
				return
			}
			defer cli.Close()
			ctx := context.Background()
			port := nat.Port("3000/tcp")
			created, err := cli.ContainerCreate(ctx, &container.Config{Image: image, ExposedPorts: nat.PortSet{port: {}}, Labels: map[string]string{cluster.LabelApp: app}},
				&container.HostConfig{PortBindings: nat.PortMap{port: {{HostIP: host}}}}, nil, nil, "")
			if err != nil {
				b.Error(err)
				return
			}
			ids[i] = created.ID
			if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
				b.Error(err)
				return
			}
			info, err := cli.ContainerInspect(ctx, created.ID)
			if err != nil {
				b.Error(err)
				return
			}
			addr := host + ":" + info.NetworkSettings.Ports[port][0].HostPort
			for {
				if resp, err := http.Get("http://" + addr + "/ping"); err == nil {
					resp.Body.Close()
					if resp.StatusCode/100 == 2 {
						return
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	b.StopTimer()
	testenv.RemoveContainers(b, app)
	b.StartTimer()
	return took
}
