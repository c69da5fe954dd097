package router_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

func TestHeadAndStaleKeepAlive(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello")
	}))
	srv.Config.IdleTimeout = 30 * time.Millisecond // it closes the router's idle connections
	srv.Start()
	t.Cleanup(srv.Close)
	_, url := proxy(t, map[string][]string{"a.example.com": {srv.Listener.Addr().String()}})

	for i := range 6 {
		method := "GET"
		if i%2 == 1 {
			method = "HEAD"
		}
		a := do(t, method, url+"/", "a.example.com", "", nil)
		want := "hello"
		if method == "HEAD" {
			want = ""
		}
		if a.status != 200 || a.body != want {
			t.Fatalf("%s %d: %d %q", method, i, a.status, a.body)
		}
		if i == 2 {
			srv.CloseClientConnections()
		} else {
			time.Sleep(60 * time.Millisecond)
		}
	}
}

func TestStreamedAnswerIsFlushed(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "data: second\n\n")
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	_, url := proxy(t, map[string][]string{"a.example.com": {srv.Listener.Addr().String()}})
	req, _ := http.NewRequest("GET", url+"/", nil)
	req.Host = "a.example.com"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("first event: %q %v", line, err)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if string(rest) != "\ndata: second\n\n" {
		t.Fatalf("rest %q", rest)
	}
}

func TestTruncatedAnswerIsNotPassedOffAsComplete(t *testing.T) {
	addr, _ := serveEach(t, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
		time.Sleep(20 * time.Millisecond)
		c.Close()
	})
	_, url := proxy(t, map[string][]string{"a.example.com": {addr}})
	req, _ := http.NewRequest("GET", url+"/", nil)
	req.Host = "a.example.com"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return // also acceptable: the client saw the failure at once
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("a truncated answer reached the client as complete: %q", b)
	}
	if !strings.HasPrefix(string(b), "only part") {
		t.Fatalf("body %q", b)
	}
}

func TestApplyDuringTraffic(t *testing.T) {
	b1, _ := backend(t, "b1")
	b2, _ := backend(t, "b2")
	r, url := proxy(t, map[string][]string{"a.example.com": {b1}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for v := range 200 {
			routes := [][]string{{b1}, {b2}, {b1, b2}}[v%3]
			r.Apply(cluster.RoutingTable{Version: uint64(v + 2), Routes: map[string][]string{"a.example.com": routes}})
		}
	}()
	for range 100 {
		if a := do(t, "GET", url+"/", "a.example.com", "", nil); a.status != 200 {
			t.Fatalf("%d %q", a.status, a.body)
		}
	}
	<-done
}

// TestClientLeavingEndsTheExchange checks that when a client leaves while
// the instance is still answering, the router closes its connection to the
// instance soon, not at the backend timeout (60s here): whether the client
// left before or after the router started watching it, and whether the
// answer had not begun, or its body was under way.
func TestClientLeavingEndsTheExchange(t *testing.T) {
	answers := []struct{ name, answer string }{
		{"no answer yet", ""},
		{"plain body under way", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nfirst"},
		{"chunked body under way", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n"},
	}
	for _, a := range answers {
		for _, after := range []time.Duration{20 * time.Millisecond, 600 * time.Millisecond} {
			t.Run(fmt.Sprintf("%s, client leaves after %s", a.name, after), func(t *testing.T) {
				t.Parallel()
				clientLeaves(t, a.answer, after, func(instance string) string {
					_, url := proxy(t, map[string][]string{"a.example.com": {instance}})
					return strings.TrimPrefix(url, "http://")
				})
			})
		}
	}
}

// clientLeaves sends a GET for a.example.com to the router that route
// starts (routing a.example.com to the instance it is given; it returns
// the router's host:port), the instance writing answer and then nothing,
// and closes the client's connection after the given time; it fails unless
// the router then closes its connection to the instance within 10s.
func clientLeaves(t *testing.T, answer string, after time.Duration, route func(instance string) string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	closed := make(chan struct{})
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, answer)
		io.Copy(io.Discard, c) // until the router closes
		close(closed)
	}()
	c := dialRaw(t, route(l.Addr().String()))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
	time.Sleep(after)
	c.Close()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatalf("client left after %s: the router kept its connection to the instance 10s later", after)
	}
}
