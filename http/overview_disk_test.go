package http_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/docker"
	"github.com/longshoreman/longshoreman/http"
	"github.com/longshoreman/longshoreman/scheduler"
)

// fixedDisk is a fake of the hosts' disk use of images.
type fixedDisk map[string]int64

func (f fixedDisk) ImageDisk(context.Context) map[string]int64 { return f }

// GET /overview shows each host's disk use of images, 0 for a host that
// did not answer; GET /hosts keeps its shape.
func TestOverviewImagesDisk(t *testing.T) {
	d, err := db.Open(filepath.Join(t.TempDir(), "longshoreman.db"), db.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	engines := docker.New(docker.Config{Port: 1})
	sched := scheduler.New(d, engines, scheduler.Config{Controller: d.ControllerID()})
	srv := httptest.NewServer(http.NewServer(&http.Server{Store: d, Scheduler: sched, Token: testToken,
		Disk: fixedDisk{"127.0.0.9": 3 << 30}}))
	t.Cleanup(func() { srv.Close(); engines.Close(); d.Close() })
	for _, h := range []string{"127.0.0.9", "127.0.0.10"} {
		if _, err := d.AddHost(h); err != nil {
			t.Fatal(err)
		}
	}
	var o http.OverviewResponse
	if err := json.NewDecoder(openEvents(t, srv.URL+"/overview", nil).Body).Decode(&o); err != nil {
		t.Fatal(err)
	}
	disk := map[string]cluster.Bytes{}
	for _, h := range o.Hosts {
		disk[h.Addr] = h.ImagesDisk
	}
	if disk["127.0.0.9"] != 3<<30 || disk["127.0.0.10"] != 0 || len(disk) != 2 {
		t.Errorf("images_disk by host: %v, want 3 GiB on 127.0.0.9 and 0 on 127.0.0.10", disk)
	}
	var hosts struct {
		Hosts []string `json:"hosts"`
	}
	if err := json.NewDecoder(openEvents(t, srv.URL+"/hosts", nil).Body).Decode(&hosts); err != nil || len(hosts.Hosts) != 2 {
		t.Errorf("GET /hosts: %v %v, want the two addresses", hosts, err)
	}
}
