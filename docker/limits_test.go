//go:build integration

package docker_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
)

// TestRunWithLimits runs a container with a 64m memory limit and half a
// core: Docker holds Memory = MemorySwap = 64 MiB and NanoCpus = 5e8. Made
// to allocate 200 MiB, it is killed for memory, and Inspect reports
// OOMKilled, still after the restart policy brought it back.
func TestRunWithLimits(t *testing.T) {
	e := newEngines(t)
	host := testenv.Hosts(t)[0]
	app := uniqueApp(t, "docker-limits")
	ctx := ctxFor(t, 2*time.Minute)
	ct, err := e.Run(ctx, cluster.ContainerSpec{App: app, Revision: 1, Host: host, Image: testenv.Image(t, "1"),
		Port: cluster.DefaultPort, Memory: 64 << 20, CPUs: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	got := testenv.Docker(t, "inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}}", ct.ID)
	if want := "67108864 67108864 500000000"; got != want {
		t.Fatalf("Memory MemorySwap NanoCpus = %s, want %s", got, want)
	}
	if ct.OOMKilled {
		t.Fatalf("a new container reported killed for memory: %+v", ct)
	}

	client := &http.Client{Timeout: 30 * time.Second}
	if resp, err := client.Post("http://"+testenv.Addr(host, ct.Port)+"/alloc?mb=200", "text/plain", nil); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			t.Fatalf("POST /alloc = 404: the test image lacks the endpoint (build it from testapp/)")
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		now, err := e.Inspect(ctx, host, ct.ID)
		if err == nil && now.OOMKilled && now.Running {
			break // killed, and restarted in place by the restart policy
		}
		if time.Now().After(deadline) {
			t.Fatalf("Inspect after allocating past the limit = %+v, %v; want OOMKilled and running again", now, err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Without limits, Docker holds none.
	plain, err := e.Run(ctx, cluster.ContainerSpec{App: app, Revision: 2, Host: host, Image: testenv.Image(t, "1"), Port: cluster.DefaultPort})
	if err != nil {
		t.Fatal(err)
	}
	if got := testenv.Docker(t, "inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}}", plain.ID); strings.TrimSpace(got) != "0 0 0" {
		t.Fatalf("without limits: Memory MemorySwap NanoCpus = %s, want 0 0 0", got)
	}
}
