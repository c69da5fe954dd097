package pubsub_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/pubsub"
)

func TestEncodeNeverNull(t *testing.T) {
	b, err := pubsub.Encode(cluster.RoutingTable{Version: 3, Controller: "c1",
		Time:   time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.UTC),
		Routes: map[string][]string{"a.example.com": nil}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":3,"controller":"c1","time":"2026-01-02T15:04:05.123456789Z","routes":{"a.example.com":[]}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	b, _ = pubsub.Encode(cluster.RoutingTable{})
	var m map[string]json.RawMessage
	json.Unmarshal(b, &m)
	if string(m["routes"]) != "{}" {
		t.Fatalf("empty table encodes routes as %s, want {}", m["routes"])
	}
}
