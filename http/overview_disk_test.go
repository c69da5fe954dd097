package http_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/http"
)

// fixedDisk is a fake of the hosts' disk use of images.
type fixedDisk map[string]int64

func (f fixedDisk) ImageDisk(context.Context) map[string]int64 { return f }

// GET /overview shows each host's disk use of images, 0 for a host that
// did not answer; GET /hosts keeps its shape.
func TestOverviewImagesDisk(t *testing.T) {
	srv := openServer(t, serverSetup{hosts: []string{"127.0.0.9", "127.0.0.10"},
		configure: func(s *http.Server) { s.Disk = fixedDisk{"127.0.0.9": 3 << 30} }})
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
