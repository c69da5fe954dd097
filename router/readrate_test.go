//go:build integration

package router_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/pubsub"
	"github.com/longshoreman/longshoreman/router"
)

// The minimum read rate, proven on real sockets against router.Run: on
// the router's own loop, net/http's server (a handed-off connection, and
// ReverseProxyOnly), HTTPS on the loop, and HTTP/2 (an answer held by flow
// control, and one held by a full socket).

// bigAnswer is the size of /big: more than the sockets between the
// instance and a client that stopped reading can hold (the client's receive
// buffer, the router's send buffer, the router's receive buffer from the
// instance, which autotuning can grow to net.ipv4.tcp_rmem's maximum (32 MB
// on the machines CI runs on), and the instance's send buffer: about 40 MB), so
// that an answer the router gives up on is always cut short at the
// instance. With 10 MB, the instance could finish writing into those
// buffers before the router gave up, and the answer was not counted
// abandoned.
const bigAnswer = 64 << 20

// bigInstance answers /big with 64 MB (or size=N bytes), /events with an
// event a second (count=N of them, then "data: end"), anything else with
// "small". It counts the big answers begun and those cut short (a write
// failed: the router gave up on them).
type bigInstance struct {
	addr             string
	started, aborted atomic.Int64
}

func newBigInstance(t *testing.T) *bigInstance {
	t.Helper()
	inst := &bigInstance{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			inst.started.Add(1)
			size := bigAnswer
			fmt.Sscan(r.URL.Query().Get("size"), &size)
			w.Header().Set("Content-Length", fmt.Sprint(size))
			chunk := bytes.Repeat([]byte("b"), 32<<10)
			for sent := 0; sent < size; sent += len(chunk) {
				if len(chunk) > size-sent {
					chunk = chunk[:size-sent]
				}
				if _, err := w.Write(chunk); err != nil {
					inst.aborted.Add(1)
					return
				}
			}
		case "/events":
			var n int
			fmt.Sscan(r.URL.Query().Get("count"), &n)
			w.Header().Set("Content-Type", "text/event-stream")
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for i := range n {
				fmt.Fprintf(w, "data: %d\n\n", i)
				w.(http.Flusher).Flush()
				select {
				case <-tick.C:
				case <-r.Context().Done():
					return
				}
			}
			io.WriteString(w, "data: end\n\n")
		default:
			io.WriteString(w, "small")
		}
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	inst.addr = l.Addr().String()
	return inst
}

// readRateRouter is a router.Run under test, plain or HTTPS.
type readRateRouter struct {
	addr  string // where the clients connect: the HTTP or the HTTPS port
	https bool
	ca    *testCA
	hr    *httpsRouter
}

// startReadRateRouter runs a router with cfg for app big.example.com on
// inst: on HTTP, or with https on HTTPS too (a certificate from the fake
// controller, the table from a real publisher).
func startReadRateRouter(t *testing.T, cfg router.RunConfig, inst *bigInstance, https bool) *readRateRouter {
	t.Helper()
	routes := map[string][]string{"big.example.com": {inst.addr}}
	if !https {
		return &readRateRouter{addr: runWith(t, cfg, routes)}
	}
	c := testRedis(t)
	ca, fc := certController(t, 1, "big.example.com")
	ch := "test.router.readrate." + strings.ReplaceAll(t.Name(), "/", ".") + time.Now().Format(".150405.000000")
	publishTable(t, c, ch, cluster.RoutingTable{Version: 1, Controller: "c", Cluster: "k", Certs: 1, Routes: routes,
		HTTPS: map[string]cluster.HTTPSRoute{"big.example.com": {}}})
	cfg.Redis, cfg.Channel, cfg.Controller, cfg.RouterToken = pubsub.ClientOf(c), ch, fc.URL, testRouterToken
	hr := runHTTPSRouter(t, cfg)
	testenv.Eventually(t, 10*time.Second, "table applied and certificate fetched", func() bool {
		st := status(t, hr.url)
		return st.Version == 1 && st.Certs != nil && st.Certs.Version == 1
	})
	return &readRateRouter{addr: hr.httpsAddr, https: true, ca: ca, hr: hr}
}

// dial connects to the router, over TLS with ALPN proto when HTTPS.
func (rr *readRateRouter) dial(t *testing.T, proto string) net.Conn {
	t.Helper()
	if !rr.https {
		return dialRaw(t, rr.addr)
	}
	c, err := tls.Dial("tcp", rr.addr, &tls.Config{ServerName: "big.example.com", RootCAs: rr.ca.pool, NextProtos: []string{proto}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if got := c.ConnectionState().NegotiatedProtocol; got != proto {
		t.Fatalf("ALPN %q, want %q", got, proto)
	}
	return c
}

// get asks the router for path on big.example.com: over HTTP, or over
// HTTPS with h2 or HTTP/1.1.
func (rr *readRateRouter) get(h2 bool, path string) (*http.Response, error) {
	if !rr.https {
		req, _ := http.NewRequest("GET", "http://"+rr.addr+path, nil)
		req.Host = "big.example.com"
		return (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	}
	c := rr.hr.client(rr.ca, h2)
	c.Timeout = 5 * time.Minute
	return c.Get("https://big.example.com" + path)
}

// stopReading asks for /big in one of the ways a client can and never
// reads the answer.
func stopReading(t *testing.T, rr *readRateRouter, how string) net.Conn {
	t.Helper()
	switch how {
	case "HTTP/1.1", "HTTP/1.0":
		c := rr.dial(t, "http/1.1")
		fmt.Fprintf(c, "GET /big %s\r\nHost: big.example.com\r\n\r\n", how)
		return c
	case "h2", "h2 with open windows":
		c := rr.dial(t, "h2")
		io.WriteString(c, http2.ClientPreface)
		fr := http2.NewFramer(c, c)
		if how == "h2" {
			fr.WriteSettings() // the default windows of 64 KiB: flow control stops the answer
		} else {
			// Windows as large as they go: the router writes until the
			// socket is full.
			fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
			fr.WriteWindowUpdate(0, 1<<31-1-65535)
		}
		var hb bytes.Buffer
		enc := hpack.NewEncoder(&hb)
		for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "big.example.com"}, {":path", "/big"}} {
			enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Fatalf("unknown way %q", how)
	return nil
}

// TestClientsThatStopReadingAreCut: with --max-conns 2, two clients ask
// for a 64 MB answer and never read it; each is cut about one window after
// its socket buffers filled, the instance's answers are abandoned, and a
// third client, waiting for a slot, is served then.
func TestClientsThatStopReadingAreCut(t *testing.T) {
	t.Parallel()
	const window = 2 * time.Second
	for _, tc := range []struct {
		name   string
		https  bool
		rpOnly bool
		how    string
		h2     bool          // the third client speaks h2
		idle   time.Duration // the idle timeout, when it matters
	}{
		{name: "loop", how: "HTTP/1.1"},
		{name: "handed off to net/http", how: "HTTP/1.0"},
		{name: "reverse proxy only", rpOnly: true, how: "HTTP/1.1"},
		{name: "HTTPS loop", https: true, how: "HTTP/1.1"},
		{name: "HTTPS reverse proxy only", https: true, rpOnly: true, how: "HTTP/1.1"},
		// The stream is reset one window after it stopped; the
		// connection, idle then, goes at the idle timeout.
		{name: "h2 flow control", https: true, how: "h2", h2: true, idle: window},
		{name: "h2 full socket", https: true, how: "h2 with open windows", h2: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			inst := newBigInstance(t)
			cfg := router.RunConfig{MaxConns: 2, IdleTimeout: tc.idle,
				Router: router.Config{MinReadRate: 64 << 10, BodyRateWindow: window, ReverseProxyOnly: tc.rpOnly}}
			rr := startReadRateRouter(t, cfg, inst, tc.https)
			for range 2 {
				stopReading(t, rr, tc.how)
			}
			testenv.Eventually(t, 10*time.Second, "both answers begun", func() bool { return inst.started.Load() == 2 })
			begun := time.Now()

			served := make(chan error, 1)
			go func() {
				resp, err := rr.get(tc.h2, "/small")
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if string(b) != "small" {
						err = fmt.Errorf("%s %q", resp.Status, b)
					}
				}
				served <- err
			}()
			bound := window + tc.idle + 20*time.Second // a loaded machine's margin
			select {
			case err := <-served:
				if err != nil {
					t.Fatalf("the third client: %v", err)
				}
			case <-time.After(bound):
				t.Fatalf("the third client was not served within %s of two clients that stopped reading", bound)
			}
			if d := time.Since(begun); d < window/2 {
				t.Fatalf("the third client was served after %s, before a client that stopped reading could be cut (window %s)", d, window)
			}
			testenv.Eventually(t, 20*time.Second, "both answers abandoned", func() bool { return inst.aborted.Load() == 2 })
		})
	}
}

// TestSlowSteadyStreamIsNotCut: an event stream of one small event a
// second, read as it comes, flows for three minutes (far below the
// minimum rate, over 180 windows) on every path. The paths stream at
// once, whatever -parallel allows.
func TestSlowSteadyStreamIsNotCut(t *testing.T) {
	t.Parallel()
	const events = 180
	onEveryPath(t, router.Config{MinReadRate: 1024, BodyRateWindow: time.Second}, func(p readRatePath, rr *readRateRouter) error {
		return readStream(p.name, rr, p.h2, events)
	})
}

// readRatePath is one way an answer reaches its client.
type readRatePath struct {
	name   string
	https  bool
	rpOnly bool
	h2     bool
}

var readRatePaths = []readRatePath{
	{name: "loop"},
	{name: "reverse proxy only", rpOnly: true},
	{name: "HTTPS loop", https: true},
	{name: "h2", https: true, h2: true},
}

// onEveryPath runs a router with cfg and an instance of its own for each
// of readRatePaths, calls read on all of them at once, and fails the test
// with each error read returns.
func onEveryPath(t *testing.T, cfg router.Config, read func(readRatePath, *readRateRouter) error) {
	t.Helper()
	errs := make(chan error, len(readRatePaths))
	for _, p := range readRatePaths {
		inst := newBigInstance(t)
		rc := cfg
		rc.ReverseProxyOnly = p.rpOnly
		rr := startReadRateRouter(t, router.RunConfig{Router: rc}, inst, p.https)
		go func() { errs <- read(p, rr) }()
	}
	for range readRatePaths {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// readStream reads an event stream of n events from the router as they
// come; its errors start with name.
func readStream(name string, rr *readRateRouter, h2 bool, n int) error {
	resp, err := rr.get(h2, fmt.Sprintf("/events?count=%d", n))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer resp.Body.Close()
	if want := map[bool]int{false: 1, true: 2}[h2]; resp.ProtoMajor != want {
		return fmt.Errorf("%s: protocol %s, want HTTP/%d", name, resp.Proto, want)
	}
	br := bufio.NewReader(resp.Body)
	for i := 0; ; i++ {
		line, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("%s: the stream was cut after %d events: %w", name, i/2, err)
		}
		if line == "data: end\n" {
			if i/2 != n {
				return fmt.Errorf("%s: the stream ended after %d events, want %d", name, i/2, n)
			}
			return nil
		}
	}
}

// TestSteadyReaderGetsTheWholeAnswer: a client reading a large answer at a
// few times the minimum rate, for several windows, gets all of it on every
// path, HTTP/2 included (where the writes are watched, not the socket).
func TestSteadyReaderGetsTheWholeAnswer(t *testing.T) {
	t.Parallel()
	const size = 12 << 20 // more than Go's HTTP/2 client takes in before it reads
	onEveryPath(t, router.Config{MinReadRate: 512 << 10, BodyRateWindow: 2 * time.Second}, func(p readRatePath, rr *readRateRouter) error {
		resp, err := rr.get(p.h2, fmt.Sprintf("/big?size=%d", size))
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		defer resp.Body.Close()
		// 256 KiB every 100ms: about 2.5 MB/s, five times the rate.
		buf := make([]byte, 256<<10)
		var got int
		for {
			n, err := io.ReadFull(resp.Body, buf)
			got += n
			if err == io.EOF || err == io.ErrUnexpectedEOF && got == size {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: cut after %d of %d bytes: %w", p.name, got, size, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got != size {
			return fmt.Errorf("%s: %d bytes, want %d", p.name, got, size)
		}
		return nil
	})
}
