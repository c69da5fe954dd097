package cluster_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
)

func TestValidateMaintenanceMessage(t *testing.T) {
	for _, c := range []struct {
		msg  string
		want string // "" when valid
	}{
		{"", ""},
		{"Back at 10:00 UTC.", ""},
		{"Two lines:\nback soon.\tThanks", ""},
		{"Ünïcödé ✓", ""},
		{strings.Repeat("x", cluster.MaxMaintenanceMessage), ""},
		{strings.Repeat("x", cluster.MaxMaintenanceMessage+1), "at most 1024"},
		{"bell\a", "control character at byte 4"},
		{"\x1b[31mred", "control character at byte 0"},
		{"bad \xff utf-8", "not valid UTF-8"},
	} {
		err := cluster.ValidateMaintenanceMessage("a.example.com", c.msg)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.msg, err)
		case c.want != "" && (cluster.ErrorCode(err) != cluster.EINVALID || !strings.Contains(cluster.ErrorMessage(err), c.want)):
			t.Errorf("%q: %v; want EINVALID containing %q", c.msg, err, c.want)
		}
	}
}

// Apps in maintenance are in the table with their message (the default
// when none); one off or being deleted is not; a table without any hashes
// as before tables carried maintenance, and one with it hashes otherwise.
func TestAddMaintenanceAndTableSum(t *testing.T) {
	base := cluster.RoutingTable{Routes: map[string][]string{"a.example.com": {"10.0.0.1:3000"}}}
	before := cluster.TableSum(base)
	table := base
	cluster.AddMaintenance(&table, &cluster.App{Name: "off.example.com"})
	cluster.AddMaintenance(&table, &cluster.App{Name: "gone.example.com", Deleting: true, Maintenance: cluster.AppMaintenance{Enabled: true}})
	if table.Maintenance != nil || !bytes.Equal(cluster.TableSum(table), before) {
		t.Fatalf("no app in maintenance: %v, sum changed %v", table.Maintenance, !bytes.Equal(cluster.TableSum(table), before))
	}
	cluster.AddMaintenance(&table, &cluster.App{Name: "a.example.com", Maintenance: cluster.AppMaintenance{Enabled: true}})
	cluster.AddMaintenance(&table, &cluster.App{Name: "b.example.com", Maintenance: cluster.AppMaintenance{Enabled: true, Message: "Soon."}})
	want := map[string]cluster.MaintenanceRoute{"a.example.com": {Message: cluster.DefaultMaintenanceMessage}, "b.example.com": {Message: "Soon."}}
	if len(table.Maintenance) != 2 || table.Maintenance["a.example.com"] != want["a.example.com"] || table.Maintenance["b.example.com"] != want["b.example.com"] {
		t.Fatalf("maintenance = %v; want %v", table.Maintenance, want)
	}
	with := cluster.TableSum(table)
	if bytes.Equal(with, before) {
		t.Fatal("the sum does not change when an app goes into maintenance")
	}
	table.Maintenance["b.example.com"] = cluster.MaintenanceRoute{Message: "Later."}
	if bytes.Equal(cluster.TableSum(table), with) {
		t.Fatal("the sum does not change with the message")
	}
}
