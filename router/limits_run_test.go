//go:build integration

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

	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/router"
)

func TestLongStreamPassesAllTimeouts(t *testing.T) {
	t.Parallel()
	// Four seconds: a stall of the loaded test machine must not pass for
	// a timeout of the router.
	limit := 4 * time.Second
	// The body-rate window stays longer than a scheduling stall of the
	// loaded test machine: the deadline of the body's last read is armed
	// until that read returns, and the server's background read of the
	// connection starts inside it.
	addr := runWith(t, router.RunConfig{HeaderTimeout: limit, IdleTimeout: limit,
		Router: router.Config{BackendTimeout: limit, MinBodyRate: 1000, BodyRateWindow: 5 * limit}},
		map[string][]string{"sse.example.com": {streaming(t, 3*limit)}})
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			var body io.Reader
			if method == "POST" {
				body = strings.NewReader("x")
			}
			req, _ := http.NewRequest(method, "http://"+addr+"/events", body)
			req.Host = "sse.example.com"
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || !strings.HasSuffix(string(b), "data: end\n\n") {
				t.Fatalf("%s: %d %q %v after %s", method, resp.StatusCode, b, err, time.Since(start))
			}
			if d := time.Since(start); d < 3*limit {
				t.Fatalf("%s: the stream ended after %s, before outlasting the timeouts", method, d)
			}
		})
	}
}

func TestUpgradedConnectionPasses(t *testing.T) {
	// An echo server speaking a made-up protocol after 101, as a
	// websocket server would.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "upgrade required", http.StatusUpgradeRequired)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		io.Copy(c, brw)
	}))
	t.Cleanup(srv.Close)
	limit := time.Second
	addr := runWith(t, router.RunConfig{HeaderTimeout: limit, IdleTimeout: limit,
		Router: router.Config{BackendTimeout: limit, MinBodyRate: 1000, BodyRateWindow: limit}},
		map[string][]string{"ws.example.com": {srv.Listener.Addr().String()}})
	c := dialRaw(t, addr)
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: ws.example.com\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	for i := range 6 { // 6 × 600ms: past every timeout
		time.Sleep(600 * time.Millisecond)
		msg := fmt.Sprintf("ping %d\n", i)
		io.WriteString(c, msg)
		if got, err := br.ReadString('\n'); err != nil || got != msg {
			t.Fatalf("echo %d: %q %v", i, got, err)
		}
	}
}

func TestSlowHeadersAreCut(t *testing.T) {
	b1, _ := backend(t, "b1")
	addr := runWith(t, router.RunConfig{HeaderTimeout: 500 * time.Millisecond},
		map[string][]string{"a.example.com": {b1}})
	c := dialRaw(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a.example.com\r\n")
	go trickle(c)
	if !closedWithin(c, 8*time.Second) {
		t.Fatal("a client sending its headers for 10s was not cut by the 500ms header timeout")
	}
	if code, body := testenv.HTTPGet(t, addr, "/_ping", 5*time.Second); code != 200 || body != "pong" {
		t.Fatalf("after the cut: %d %q", code, body)
	}
}

// trickle writes one header byte to c every 100ms, 10s in all, until a
// write fails.
func trickle(c net.Conn) {
	for range 100 {
		time.Sleep(100 * time.Millisecond)
		if _, err := io.WriteString(c, "X"); err != nil {
			return
		}
	}
}

func TestIdleKeepAliveIsClosed(t *testing.T) {
	b1, _ := backend(t, "b1")
	addr := runWith(t, router.RunConfig{IdleTimeout: 300 * time.Millisecond},
		map[string][]string{"a.example.com": {b1}})
	c := dialRaw(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	c.SetReadDeadline(time.Now().Add(8 * time.Second))
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle connection: read %d bytes, %v; want it closed", n, err)
	}
}

func TestConnectionCap(t *testing.T) {
	b1, _ := backend(t, "b1")
	addr := runWith(t, router.RunConfig{MaxConns: 2},
		map[string][]string{"a.example.com": {b1}})
	get := func(c net.Conn, wait time.Duration) (*http.Response, error) {
		c.SetReadDeadline(time.Now().Add(wait))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
		}
		return resp, err
	}
	var open []net.Conn
	for i := range 2 {
		c := dialRaw(t, addr)
		if resp, err := get(c, 10*time.Second); err != nil || resp.StatusCode != 200 {
			t.Fatalf("connection %d within the cap: %v %v", i, resp, err)
		}
		open = append(open, c)
	}
	extra := []net.Conn{dialRaw(t, addr), dialRaw(t, addr)}
	for i, c := range extra {
		if resp, err := get(c, time.Second); err == nil {
			t.Fatalf("extra connection %d was served beyond the cap of 2: %d", i, resp.StatusCode)
		}
	}
	// Each closed connection lets one waiting connection in.
	for i, c := range extra {
		open[i].Close()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("extra connection %d after one closed: %v %v", i, resp, err)
		}
	}
}

// TestPausedInstanceAnswers504 freezes a real test app container (docker
// pause): its connections are accepted by the kernel and never answered.
func TestPausedInstanceAnswers504(t *testing.T) {
	app := testenv.UniqueApp(t, "paused")
	t.Cleanup(func() { testenv.RemoveContainers(t, app) })
	id := testenv.Docker(t, "run", "-d", "--label", "longshoreman.app="+app, "-e", "PORT=3000",
		"-p", "127.0.0.1::3000", testenv.Image(t, "1"))
	ports := strings.Fields(testenv.Docker(t, "port", id, "3000/tcp"))
	if len(ports) == 0 {
		t.Fatalf("docker port %s 3000/tcp published nothing", id)
	}
	if code, body := testenv.HTTPGet(t, ports[0], "/ping", 30*time.Second); code != 200 {
		t.Fatalf("the test app answered /ping with %d %q", code, body)
	}
	addr := runWith(t, router.RunConfig{Router: router.Config{BackendTimeout: time.Second}},
		map[string][]string{app: {ports[0]}})
	url := "http://" + addr
	if a := do(t, "GET", url+"/", app, "", nil); a.status != 200 {
		t.Fatalf("before the pause: %d %q", a.status, a.body)
	}

	testenv.Docker(t, "pause", id)
	t.Cleanup(func() { testenv.DockerErr(t, "unpause", id) })
	for _, method := range []string{"GET", "POST"} {
		body := ""
		if method == "POST" {
			body = "x=1"
		}
		start := time.Now()
		a := do(t, method, url+"/", app, body, nil)
		if a.status != http.StatusGatewayTimeout || !strings.HasPrefix(a.body, app+" did not answer within 1s") {
			t.Fatalf("%s to the paused instance: %d %q", method, a.status, a.body)
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("%s: 504 after %s, before the timeout", method, d)
		}
	}

	testenv.Docker(t, "unpause", id)
	testenv.Eventually(t, 10*time.Second, "an answer after the unpause", func() bool {
		return do(t, "GET", url+"/", app, "", nil).status == 200
	})
}
