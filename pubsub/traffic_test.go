package pubsub_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/pubsub"
)

func summary() cluster.TrafficSummary {
	var c cluster.TrafficCounts
	c.Answers[cluster.Class2xx], c.Answers[cluster.Class5xx], c.Latency[3] = 9, 1, 10
	return cluster.TrafficSummary{Cluster: "cl-1", Router: "r1", Sequence: 1, Time: time.Unix(1700000000, 0).UTC(),
		Apps: map[string]cluster.AppTraffic{"a.example.com": {TrafficCounts: c, Instances: map[string]cluster.TrafficCounts{"10.0.0.1:3000": c}}}}
}

// A summary signed with a routes key decodes whole; an unsigned one, one
// signed with another key, one changed after signing and one of another
// cluster are refused.
func TestTrafficSummarySignature(t *testing.T) {
	key, other := []byte("0123456789abcdef-key"), []byte("another-key-0123456789")
	msg, err := pubsub.EncodeTraffic(summary(), key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pubsub.DecodeTraffic(msg, [][]byte{other, key}, "cl-1")
	if err != nil {
		t.Fatalf("a summary signed with the second key: %v", err)
	}
	if a := got.Apps["a.example.com"]; a.Requests() != 10 || a.Errors() != 1 || a.Instances["10.0.0.1:3000"].Latency[3] != 10 || got.Sequence != 1 {
		t.Errorf("decoded %+v", got)
	}

	unsigned, _ := pubsub.EncodeTraffic(summary(), key)
	unsigned = unsigned[:bytes.LastIndex(unsigned, []byte(`,"signature"`))]
	unsigned = append(unsigned, '}')
	forged, _ := pubsub.EncodeTraffic(summary(), other)
	changed := bytes.Replace(msg, []byte(`"answers":[9,`), []byte(`"answers":[99,`), 1)
	if bytes.Equal(changed, msg) {
		t.Fatal("the test's change did not apply")
	}
	for name, c := range map[string]struct {
		msg  []byte
		want error
	}{
		"unsigned":           {unsigned, pubsub.ErrUnsigned},
		"signed by another":  {forged, pubsub.ErrBadSignature},
		"changed after sign": {changed, pubsub.ErrBadSignature},
	} {
		if _, err := pubsub.DecodeTraffic(c.msg, [][]byte{key}, "cl-1"); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	if _, err := pubsub.DecodeTraffic(msg, [][]byte{key}, "cl-2"); !errors.Is(err, pubsub.ErrForeignTraffic) {
		t.Errorf("another cluster's summary: %v", err)
	}
	noSeq := summary()
	noSeq.Sequence = 0
	msg, _ = pubsub.EncodeTraffic(noSeq, key)
	if _, err := pubsub.DecodeTraffic(msg, [][]byte{key}, "cl-1"); err == nil {
		t.Error("a summary without a sequence number was taken")
	}
}
