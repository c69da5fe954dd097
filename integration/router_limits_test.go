//go:build integration

package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/command"

	"github.com/redis/go-redis/v9"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/pubsub"
)

type fixedTable struct{ t cluster.RoutingTable }

func (f fixedTable) RoutingTable() (cluster.RoutingTable, error) { return f.t, nil }

// TestRouterCommandLimits runs `longshoreman router` in-process against the
// real Redis with a hung instance and one that echoes its headers.
func TestRouterCommandLimits(t *testing.T) {
	t.Parallel()
	hungLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hungLn.Close() })
	go func() {
		for {
			c, err := hungLn.Accept()
			if err != nil {
				return
			}
			go func() { // read, never answer, until the router hangs up
				defer c.Close()
				io.Copy(io.Discard, c)
			}()
		}
	}()
	echo := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(r.Header)
	})}
	echoLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go echo.Serve(echoLn)
	t.Cleanup(func() { echo.Close() })

	channel := "test.routerlimits." + strconv.FormatInt(time.Now().UnixNano(), 36)
	rc := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	t.Cleanup(func() { rc.Close() })
	pub := pubsub.NewPublisher(pubsub.PublisherConfig{Client: pubsub.ClientOf(rc), Channel: channel, Republish: 200 * time.Millisecond,
		Key: []byte(testRoutesKey), Source: fixedTable{cluster.RoutingTable{Version: 3, Epoch: 1, Controller: "c", Cluster: "limits", Routes: map[string][]string{
			"hung.example.com": {hungLn.Addr().String()}, "echo.example.com": {echoLn.Addr().String()},
		}}}})
	pctx, pcancel := context.WithCancel(context.Background())
	pdone := make(chan struct{})
	go func() { pub.Run(pctx); close(pdone) }()
	t.Cleanup(func() { pcancel(); <-pdone })

	host, port, _ := net.SplitHostPort(testenv.Redis(t))
	addr := testenv.Addr("127.0.0.1", testenv.FreePort(t))
	env := map[string]string{"LONGSHOREMAN_LISTEN": addr, "REDIS_HOST": host, "REDIS_PORT": port,
		"LONGSHOREMAN_CHANNEL": channel, "LONGSHOREMAN_BACKEND_TIMEOUT": "1s",
		"LONGSHOREMAN_ROUTES_KEY": testRoutesKey}
	cmd := &command.RouterCommand{Stderr: io.Discard, Getenv: func(k string) string { return env[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.Run(ctx, []string{"--trust-forwarded", "192.0.2.0/24"}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("router: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("the router did not stop within 15s")
		}
	})

	// /_ping turns 200 once the published table arrived.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/_ping")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && string(b) == "pong" {
				break
			}
			if resp.StatusCode != 503 {
				t.Fatalf("/_ping: %d %q", resp.StatusCode, b)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/_ping did not answer pong within 10s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	for _, method := range []string{"GET", "POST"} {
		req, _ := http.NewRequest(method, "http://"+addr+"/", strings.NewReader("x"))
		if method == "GET" {
			req.Body, req.ContentLength = nil, 0
		}
		req.Host = "hung.example.com"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 504 || !strings.Contains(string(b), "hung.example.com did not answer within 1s") {
			t.Fatalf("%s to a hung instance: %d %q", method, resp.StatusCode, b)
		}
	}

	// 127.0.0.1 is not in 192.0.2.0/24: the client's chain is replaced.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: echo.example.com\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Header
	json.NewDecoder(resp.Body).Decode(&h)
	if got := h.Get("X-Forwarded-For"); got != "127.0.0.1" {
		t.Fatalf("X-Forwarded-For = %q, want the peer alone", got)
	}
}
