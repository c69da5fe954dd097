//go:build integration

package router_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/pubsub"
	"github.com/longshoreman/longshoreman/router"
)

// The framing of requests on the router's own connection loop (Run),
// checked on the raw socket: what the loop serves itself and what it
// hands to net/http on the same connection.

// loopConn runs the router with one instance and returns a raw
// connection to it and a reader of its answers.
func loopConn(t *testing.T) (net.Conn, *bufio.Reader) {
	t.Helper()
	b1, _ := backend(t, "b1")
	return rawConn(t, runWith(t, router.RunConfig{}, map[string][]string{"a.example.com": {b1}}))
}

// rawConn dials addr and returns the connection, which gives up 20s on,
// and a reader of its answers.
func rawConn(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := dialRaw(t, addr)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, bufio.NewReader(c)
}

// readAnswer reads one answer to a request made with method and decodes
// its body as a seen when it has one.
func readAnswer(t *testing.T, br *bufio.Reader, method string) (*http.Response, seen) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer's body: %v", err)
	}
	var s seen
	if len(b) > 0 && resp.StatusCode == 200 {
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("answer body %q: %v", b, err)
		}
	}
	return resp, s
}

// ask writes request on c and reads its answer from br as readAnswer does,
// for the method of the request line.
func ask(t *testing.T, c net.Conn, br *bufio.Reader, request string) (*http.Response, seen) {
	t.Helper()
	io.WriteString(c, request)
	method, _, _ := strings.Cut(request, " ")
	return readAnswer(t, br, method)
}

func TestLoopPipelinedRequests(t *testing.T) {
	c, br := loopConn(t)
	io.WriteString(c, "GET /one HTTP/1.1\r\nHost: a.example.com\r\n\r\n"+
		"HEAD /two HTTP/1.1\r\nHost: a.example.com\r\n\r\n"+
		"GET /three?x=1 HTTP/1.1\r\nHost: a.example.com\r\nX-Test: 3\r\n\r\n")
	if resp, s := readAnswer(t, br, "GET"); resp.StatusCode != 200 || s.Method != "GET" {
		t.Fatalf("first: %d %+v", resp.StatusCode, s)
	}
	if resp, _ := readAnswer(t, br, "HEAD"); resp.StatusCode != 200 || resp.ContentLength <= 0 {
		t.Fatalf("second (HEAD): %d, Content-Length %d", resp.StatusCode, resp.ContentLength)
	}
	if resp, s := readAnswer(t, br, "GET"); resp.StatusCode != 200 || s.Header.Get("X-Test") != "3" {
		t.Fatalf("third: %d %+v", resp.StatusCode, s)
	}
}

func TestLoopHeadSplitAcrossReads(t *testing.T) {
	c, br := loopConn(t)
	for _, part := range []string{"GE", "T / HT", "TP/1.1\r\nHost: a.exa", "mple.com\r", "\n\r", "\n"} {
		io.WriteString(c, part)
		time.Sleep(30 * time.Millisecond)
	}
	if resp, s := readAnswer(t, br, "GET"); resp.StatusCode != 200 || s.Host != "a.example.com" {
		t.Fatalf("%d %+v", resp.StatusCode, s)
	}
}

func TestLoopBodyMidConnection(t *testing.T) {
	c, br := loopConn(t)
	if resp, _ := ask(t, c, br, "GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n"); resp.StatusCode != 200 {
		t.Fatalf("before the body: %d", resp.StatusCode)
	}
	// A body, then a plain GET pipelined behind it: both on this connection.
	io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 5\r\n\r\nhello"+
		"GET /after HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
	if resp, s := readAnswer(t, br, "POST"); resp.StatusCode != 200 || s.Method != "POST" || s.Body != "hello" {
		t.Fatalf("with a body: %d %+v", resp.StatusCode, s)
	}
	if resp, s := readAnswer(t, br, "GET"); resp.StatusCode != 200 || s.Method != "GET" {
		t.Fatalf("after the body: %d %+v", resp.StatusCode, s)
	}
	if resp, s := ask(t, c, br, "POST / HTTP/1.1\r\nHost: a.example.com\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"); resp.StatusCode != 200 || s.Body != "abc" {
		t.Fatalf("chunked body: %d %+v", resp.StatusCode, s)
	}
}

func TestLoopHead(t *testing.T) {
	c, br := loopConn(t)
	resp, _ := ask(t, c, br, "HEAD / HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
	if resp.StatusCode != 200 || resp.ContentLength <= 0 {
		t.Fatalf("HEAD: %d, Content-Length %d", resp.StatusCode, resp.ContentLength)
	}
	// No body followed: the next answer starts right after the head.
	if resp, s := ask(t, c, br, "GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n"); resp.StatusCode != 200 || s.Method != "GET" {
		t.Fatalf("after HEAD: %d %+v", resp.StatusCode, s)
	}
}

func TestLoopConnectionClose(t *testing.T) {
	c, br := loopConn(t)
	resp, s := ask(t, c, br, "GET / HTTP/1.1\r\nHost: a.example.com\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != 200 || s.Method != "GET" || !resp.Close {
		t.Fatalf("%d %+v, close %v", resp.StatusCode, s, resp.Close)
	}
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after Connection: close: read %d bytes, %v; want the connection closed", n, err)
	}
}

func TestLoopHTTP10KeepAlive(t *testing.T) {
	c, br := loopConn(t)
	for i := range 2 {
		resp, s := ask(t, c, br, "GET / HTTP/1.0\r\nHost: a.example.com\r\nConnection: keep-alive\r\n\r\n")
		if resp.StatusCode != 200 || s.Method != "GET" || resp.Close {
			t.Fatalf("request %d: %d %+v, close %v", i, resp.StatusCode, s, resp.Close)
		}
	}
	// A plain HTTP/1.1 request after them is still served.
	if resp, _ := ask(t, c, br, "GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n"); resp.StatusCode != 200 {
		t.Fatalf("HTTP/1.1 after 1.0: %d", resp.StatusCode)
	}
}

func TestLoopOversizedHead(t *testing.T) {
	c, br := loopConn(t)
	go io.WriteString(c, "GET / HTTP/1.1\r\nHost: a.example.com\r\nX-Big: "+strings.Repeat("x", 2<<20)+"\r\n\r\n")
	if resp, _ := readAnswer(t, br, "GET"); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("a 2 MiB head: %d, want 431", resp.StatusCode)
	}
	// A head just over the loop's buffer but within the limit is served.
	c2, br2 := loopConn(t)
	if resp, s := ask(t, c2, br2, "GET / HTTP/1.1\r\nHost: a.example.com\r\nX-Big: "+strings.Repeat("x", 8<<10)+"\r\n\r\n"); resp.StatusCode != 200 || len(s.Header.Get("X-Big")) != 8<<10 {
		t.Fatalf("an 8 KiB head: %d", resp.StatusCode)
	}
}

func TestLoopMalformedHead(t *testing.T) {
	for name, head := range map[string]string{
		"field without colon": "GET / HTTP/1.1\r\nHost: a.example.com\r\nBad Header\r\n\r\n",
		"no Host":             "GET / HTTP/1.1\r\nX-A: b\r\n\r\n",
		"two Hosts":           "GET / HTTP/1.1\r\nHost: a.example.com\r\nHost: b.example.com\r\n\r\n",
		"bad version":         "GET / HTTP/9\r\nHost: a.example.com\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			c, br := loopConn(t)
			if resp, _ := ask(t, c, br, head); resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("%q: %d, want 400", head, resp.StatusCode)
			}
		})
	}
}

// TestLoopClientLeavingEndsTheExchange: with the loop, too, a client
// leaving while the instance has not answered ends the router's
// connection to the instance soon, not at the backend timeout.
func TestLoopClientLeavingEndsTheExchange(t *testing.T) {
	for _, after := range []time.Duration{20 * time.Millisecond, 600 * time.Millisecond} {
		clientLeaves(t, "", after, func(instance string) string {
			return runWith(t, router.RunConfig{}, map[string][]string{"a.example.com": {instance}})
		})
	}
}

// TestLoopStreamedAnswer: a chunked answer with a trailer passes through
// the loop, each chunk as it comes.
func TestLoopStreamedAnswer(t *testing.T) {
	next := make(chan struct{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-next
		io.WriteString(w, "second\n")
		w.Header().Set("X-Sum", "2")
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	addr := runWith(t, router.RunConfig{}, map[string][]string{"a.example.com": {l.Addr().String()}})
	c, br := rawConn(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	rb := bufio.NewReader(resp.Body)
	line, err := rb.ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first chunk before the second was sent: %q %v", line, err)
	}
	close(next)
	rest, err := io.ReadAll(rb)
	if err != nil || !strings.Contains(string(rest), "second\n") {
		t.Fatalf("rest: %q %v", rest, err)
	}
	if got := resp.Trailer.Get("X-Sum"); got != "2" {
		t.Fatalf("trailer X-Sum %q, want 2", got)
	}
}

// TestLoopForwardedAndOwnPaths: on the loop, the X-Forwarded-* rules
// hold (an edge router replaces what the client sent; behind a trusted
// proxy the chain is kept), and /_ping and the status path answer.
func TestLoopForwardedAndOwnPaths(t *testing.T) {
	b1, _ := backend(t, "b1")
	for _, tc := range []struct {
		trust, xff, proto string
	}{
		{"", "127.0.0.1", "http"},
		{"127.0.0.0/8", "203.0.113.7, 127.0.0.1", "https"},
	} {
		trusted, err := router.ParseTrustedProxies(tc.trust)
		if err != nil {
			t.Fatal(err)
		}
		addr := runWith(t, router.RunConfig{Router: router.Config{TrustForwarded: trusted}},
			map[string][]string{"a.example.com": {b1}})
		c, br := rawConn(t, addr)
		resp, s := ask(t, c, br, "GET / HTTP/1.1\r\nHost: a.example.com\r\nX-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n\r\n")
		if got := s.Header.Get("X-Forwarded-For"); resp.StatusCode != 200 || got != tc.xff || s.Header.Get("X-Forwarded-Proto") != tc.proto {
			t.Fatalf("trust %q: %d, X-Forwarded-For %q, -Proto %q; want %q, %q", tc.trust, resp.StatusCode, got, s.Header.Get("X-Forwarded-Proto"), tc.xff, tc.proto)
		}
		io.WriteString(c, "GET "+router.PingPath+" HTTP/1.1\r\nHost: anything\r\n\r\n")
		resp, err = http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(b) != "pong" {
			t.Fatalf("ping: %d %q", resp.StatusCode, b)
		}
		io.WriteString(c, "GET "+router.StatusPath+" HTTP/1.1\r\nHost: anything\r\n\r\n")
		resp, err = http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		var st router.Status
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != 200 {
			t.Fatalf("status: %d %v", resp.StatusCode, err)
		}
		io.Copy(io.Discard, resp.Body)
	}
}

// TestLoopShutdownClosesIdleConnections: when Run's context ends, an idle
// keep-alive connection on the loop is closed at once, while a request
// under way on another finishes.
func TestLoopShutdownClosesIdleConnections(t *testing.T) {
	c := testRedis(t)
	b1, _ := backend(t, "b1")
	slow, started := slowInstance(t, 500*time.Millisecond)

	url, r, stop := startRouter(t, c, "test.router.loop.shutdown")
	r.Apply(cluster.RoutingTable{Version: 1, Routes: map[string][]string{"a.example.com": {b1}, "slow.example.com": {slow}}})
	addr := strings.TrimPrefix(url, "http://")
	idle, ibr := rawConn(t, addr)
	if resp, _ := ask(t, idle, ibr, "GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n"); resp.StatusCode != 200 {
		t.Fatalf("before shutdown: %d", resp.StatusCode)
	}
	busy, bbr := rawConn(t, addr)
	io.WriteString(busy, "GET / HTTP/1.1\r\nHost: slow.example.com\r\n\r\n")
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	if n, err := ibr.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle connection at shutdown: read %d bytes, %v; want it closed", n, err)
	}
	resp, err := http.ReadResponse(bbr, nil)
	if err != nil {
		t.Fatalf("request under way at shutdown: %v", err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "finished" || !resp.Close {
		t.Fatalf("request under way at shutdown: %q, Connection: close %v", b, resp.Close)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestLoopSlowHeadOnKeptConnection: the header timeout also cuts a
// client that trickles the head of a later request on a kept-alive
// connection, and a head that arrives whole after a pause longer than the
// header timeout (but within the idle timeout) is served.
func TestLoopSlowHeadOnKeptConnection(t *testing.T) {
	b1, _ := backend(t, "b1")
	addr := runWith(t, router.RunConfig{HeaderTimeout: 500 * time.Millisecond, IdleTimeout: 10 * time.Second},
		map[string][]string{"a.example.com": {b1}})
	c, br := rawConn(t, addr)
	if resp, _ := ask(t, c, br, "GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n"); resp.StatusCode != 200 {
		t.Fatalf("first request: %d", resp.StatusCode)
	}
	time.Sleep(time.Second) // idle longer than the header timeout
	if resp, _ := ask(t, c, br, "GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n"); resp.StatusCode != 200 {
		t.Fatalf("after a pause: %d", resp.StatusCode)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a.example.com\r\n")
	go trickle(c)
	if !closedWithin(c, 8*time.Second) {
		t.Fatal("a client trickling its second head for 10s was not cut by the 500ms header timeout")
	}
}

// TestLoopShutdownClosesSilentConnections: a connection that sent nothing
// does not hold the shutdown up to the header timeout: it is closed once
// its grace (5s) is over, as net/http does.
func TestLoopShutdownClosesSilentConnections(t *testing.T) {
	c := testRedis(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		done <- router.Run(ctx, router.RunConfig{Listener: ln, Redis: pubsub.ClientOf(c), Channel: "test.router.loop.silent", Logger: testLogger(),
			Keys: [][]byte{testKey}, HeaderTimeout: time.Minute, ShutdownTimeout: time.Minute,
			Ready: func(*router.Router, net.Addr) { close(ready) }})
	}()
	<-ready
	silent := dialRaw(t, ln.Addr().String())
	time.Sleep(100 * time.Millisecond)
	begin := time.Now()
	cancel()
	if !closedWithin(silent, 20*time.Second) {
		t.Fatal("a silent connection stayed open 20s into the shutdown")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return 20s into the shutdown")
	}
	if d := time.Since(begin); d > 15*time.Second {
		t.Fatalf("shutdown took %s with a silent connection; want about its 5s grace", d)
	}
}
