package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/pubsub"
)

func TestSignVerify(t *testing.T) {
	key, other := []byte("key-one-0123456789"), []byte("key-two-0123456789")
	msg, err := pubsub.Encode(cluster.RoutingTable{Version: 7, Epoch: 42, Cluster: "c", Controller: "x",
		Routes: map[string][]string{"a.example.com": {"10.0.0.1:80"}}})
	if err != nil {
		t.Fatal(err)
	}
	signed := pubsub.Sign(msg, key)
	if !strings.HasPrefix(string(signed), string(msg[:len(msg)-1])+`,"signature":"`) {
		t.Fatalf("signature is not the last field: %s", signed)
	}
	flip := func(b []byte, i int) []byte { c := []byte(string(b)); c[i] ^= 1; return c }
	for _, tc := range []struct {
		name string
		msg  []byte
		keys [][]byte
		want error
	}{
		{"signed with the key", signed, [][]byte{key}, nil},
		{"second key of a rotation", signed, [][]byte{other, key}, nil},
		{"first key of a rotation", pubsub.Sign(msg, other), [][]byte{other, key}, nil},
		{"another key", signed, [][]byte{other}, pubsub.ErrBadSignature},
		{"body changed", flip(signed, 12), [][]byte{key}, pubsub.ErrBadSignature},
		{"signature changed", flip(signed, len(signed)-5), [][]byte{key}, pubsub.ErrBadSignature},
		{"signature not hex", []byte(string(signed[:len(signed)-66]) + strings.Repeat("z", 64) + `"}`), [][]byte{key}, pubsub.ErrBadSignature},
		{"unsigned table", msg, [][]byte{key}, pubsub.ErrUnsigned},
		{"empty object", []byte(`{}`), [][]byte{key}, pubsub.ErrUnsigned},
		{"empty message", nil, [][]byte{key}, pubsub.ErrUnsigned},
		{"signature cut short", signed[:len(signed)-3], [][]byte{key}, pubsub.ErrUnsigned},
		{"signature field only", []byte(`{` + `,"signature":"` + strings.Repeat("0", 64) + `"}`), [][]byte{key}, pubsub.ErrBadSignature},
	} {
		got, err := pubsub.Verify(tc.msg, tc.keys)
		if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
			continue
		}
		if tc.want == nil && string(got) != string(msg) {
			t.Errorf("%s: signed bytes %s, want %s", tc.name, got, msg)
		}
	}
}

func TestParseKeys(t *testing.T) {
	for in, want := range map[string]string{
		"0123456789abcdef":                     "[0123456789abcdef]",
		" 0123456789abcdef , fedcba9876543210": "[0123456789abcdef fedcba9876543210]",
		"0123456789abcdef,,":                   "[0123456789abcdef]",
		"":                                     "error",
		" , ":                                  "error",
		"short":                                "error",
		"0123456789abcdef,short":               "error",
	} {
		keys, err := pubsub.ParseKeys(in)
		got := "error"
		if err == nil {
			var s []string
			for _, k := range keys {
				s = append(s, string(k))
			}
			got = fmt.Sprint(s)
		}
		if got != want {
			t.Errorf("ParseKeys(%q) = %s (%v), want %s", in, got, err, want)
		}
	}
}

// attacker publishes raw messages on the routers' channel, as anyone who
// can reach Redis can.
type attacker struct {
	t  *testing.T
	c  *redis.Client
	ch string
}

func (a attacker) publish(msg []byte) {
	a.t.Helper()
	if err := a.c.Publish(context.Background(), a.ch, msg).Err(); err != nil {
		a.t.Fatal(err)
	}
}

// table publishes a table signed with key.
func (a attacker) table(key []byte, clusterID string, epoch, version uint64, ctl string) {
	a.t.Helper()
	b, err := pubsub.Encode(cluster.RoutingTable{Epoch: epoch, Version: version, Cluster: clusterID, Controller: ctl,
		Routes: map[string][]string{"a.example.com": {fmt.Sprintf("127.0.0.1:%d", version)}}})
	if err != nil {
		a.t.Fatal(err)
	}
	a.publish(pubsub.Sign(b, key))
}

func expectApplied(t *testing.T, applied <-chan cluster.RoutingTable, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case rt := <-applied:
			if got := fmt.Sprintf("%d.%d%s", rt.Epoch, rt.Version, rt.Controller); got != w {
				t.Fatalf("applied %s, want %s", got, w)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("%s not applied within 2s", w)
		}
	}
	select {
	case rt := <-applied:
		t.Fatalf("unexpected apply of %d.%d%s", rt.Epoch, rt.Version, rt.Controller)
	case <-time.After(100 * time.Millisecond):
	}
}

// BenchmarkSignVerify signs and verifies a table of 500 apps with 3
// instances each (about 40 KB), as a publish and an apply do.
func BenchmarkSignVerify(b *testing.B) {
	routes := map[string][]string{}
	for i := range 500 {
		routes[fmt.Sprintf("app%03d.example.com", i)] = []string{"10.0.0.1:32768", "10.0.0.2:32769", "10.0.0.3:32770"}
	}
	msg, _ := pubsub.Encode(cluster.RoutingTable{Version: 1, Epoch: 1, Cluster: "c", Routes: routes})
	keys := [][]byte{testKey}
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := pubsub.Verify(pubsub.Sign(msg, testKey), keys); err != nil {
			b.Fatal(err)
		}
	}
}
