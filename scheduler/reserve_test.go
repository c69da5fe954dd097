package scheduler_test

import (
	"context"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/scheduler"
)

// TestMemoryReservationsFillHosts (fast tier): with 1 GiB per host, three
// deploys of 512m x3 fit two apps' worth, the third is refused with 503
// and the figures, and scaling an app down frees its reservations.
func TestMemoryReservationsFillHosts(t *testing.T) {
	c := MustOpenFakeCluster(t, scheduler.Config{})
	for _, h := range fakeHosts {
		c.Engines.SetFreeMemory(h, 1<<30)
	}
	deploy := func(app string) error {
		if _, err := c.DB.CreateApp(app); err != nil {
			t.Fatal(err)
		}
		_, err := c.Deploy(context.Background(), app, cluster.DeployRequest{Image: goodImage, Count: 3, Memory: 512 << 20}, nil)
		return err
	}
	for _, app := range []string{"a.example.com", "b.example.com"} {
		if err := deploy(app); err != nil {
			t.Fatalf("deploy %s: %v", app, err)
		}
	}
	err := deploy("c.example.com")
	if cluster.ErrorCode(err) != cluster.EUNAVAILABLE || !strings.Contains(cluster.ErrorMessage(err), "needs 512m per instance x3 and 3 fit on no host") ||
		!strings.Contains(cluster.ErrorMessage(err), "127.0.0.1 0, 127.0.0.2 0, 127.0.0.3 0") {
		t.Fatalf("third deploy: %v, want 503 with the figures", err)
	}
	if _, err := c.Scale(context.Background(), "a.example.com", 0, nil); err != nil {
		t.Fatal(err)
	}
	if err := deploy("c.example.com"); err != nil {
		t.Fatalf("deploy after a scale down freed the memory: %v", err)
	}
}
