package router_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/internal/testenv"
	"github.com/longshoreman/longshoreman/pubsub"
	"github.com/longshoreman/longshoreman/router"
)

// hung returns the address of a server that accepts connections and reads
// requests but never answers, and a counter of the requests it got.
func hung(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex // guards conns
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					n.Add(1)
					io.Copy(io.Discard, req.Body)
				}
			}()
		}
	}()
	return l.Addr().String(), &n
}

// proxyWith starts a router built from cfg behind an httptest server.
func proxyWith(t testing.TB, cfg router.Config, routes map[string][]string) (*router.Router, string) {
	t.Helper()
	cfg.Logger = testLogger()
	r := router.New(cfg)
	if routes != nil {
		r.Apply(cluster.RoutingTable{Version: 1, Controller: "c", Routes: routes})
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv.URL
}

// runWith runs router.Run on a free port with the real Redis and cfg's
// limits, applies routes, and returns the address it listens on.
func runWith(t *testing.T, cfg router.RunConfig, routes map[string][]string) string {
	t.Helper()
	cfg.Redis, cfg.Logger = pubsub.ClientOf(testRedis(t)), testLogger()
	cfg.Channel = "test.router.limits." + t.Name()
	cfg.Keys = [][]byte{testKey}
	r, addr, _ := launch(t, cfg)
	r.Apply(cluster.RoutingTable{Version: 1, Controller: "c", Routes: routes})
	return addr
}

func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reports whether the peer closes c within d (reading and
// dropping whatever it sends). A reset counts as closed: the kernel sends
// one instead of a FIN when the peer closes with bytes of ours unread, as
// a server cutting a client mid-headers does.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	return err == nil || errors.Is(err, syscall.ECONNRESET) // EOF is nil; a timeout is an error
}

func TestBackendTimeoutAnswers504(t *testing.T) {
	t.Parallel()
	bad, hits := hung(t)
	for _, rpOnly := range []bool{false, true} {
		_, url := proxyWith(t, router.Config{BackendTimeout: 300 * time.Millisecond, ReverseProxyOnly: rpOnly},
			map[string][]string{"hung.example.com": {bad}})
		for _, method := range []string{"GET", "HEAD", "POST", "DELETE"} {
			body := ""
			if method == "POST" {
				body = "order=1"
			}
			before := hits.Load()
			start := time.Now()
			a := do(t, method, url+"/slow", "hung.example.com", body, nil)
			if a.status != http.StatusGatewayTimeout {
				t.Fatalf("%s (reverse proxy only %v): %d %q, want 504", method, rpOnly, a.status, a.body)
			}
			if d := time.Since(start); d < 300*time.Millisecond {
				t.Errorf("%s answered 504 after %s, before the timeout", method, d)
			}
			want := "hung.example.com did not answer within 300ms; check the app's logs"
			if method != "HEAD" && !strings.HasPrefix(a.body, want) {
				t.Errorf("%s: body %q, want it to start with %q", method, a.body, want)
			}
			// The hung instance may count the request a moment after the
			// 504; a retry would have reached it before.
			testenv.Eventually(t, 5*time.Second, method+" reaching the hung instance", func() bool { return hits.Load() > before })
			if got := hits.Load() - before; got != 1 {
				t.Errorf("%s reached the hung instance %d times, want 1", method, got)
			}
		}
	}
}

func TestBackendTimeoutIsNotRetried(t *testing.T) {
	t.Parallel()
	bad, hits := hung(t)
	good, served := backend(t, "good")
	for _, rpOnly := range []bool{false, true} {
		hits.Store(0)
		served.Store(0)
		_, url := proxyWith(t, router.Config{BackendTimeout: 200 * time.Millisecond, ReverseProxyOnly: rpOnly},
			map[string][]string{"a.example.com": {bad, good}})
		var ok, timedOut int64
		for range 6 {
			switch a := do(t, "GET", url+"/", "a.example.com", "", nil); a.status {
			case 200:
				ok++
			case 504:
				timedOut++
			default:
				t.Fatalf("%d %q", a.status, a.body)
			}
		}
		// Round-robin over two: half go to the hung instance and stay
		// there; the working one sees only its own half.
		testenv.Eventually(t, 5*time.Second, "the hung instance counting its requests", func() bool { return hits.Load() >= timedOut })
		if timedOut != 3 || hits.Load() != 3 || served.Load() != ok {
			t.Errorf("reverse proxy only %v: %d ok, %d timed out, hung got %d, good served %d",
				rpOnly, ok, timedOut, hits.Load(), served.Load())
		}
	}
}

// streaming answers with a line every 100ms for total, after a first line
// at once; for a POST it first reads and counts the body.
func streaming(t *testing.T, total time.Duration) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: body %d\n\n", n)
		w.(http.Flusher).Flush()
		for i := 0; time.Duration(i)*100*time.Millisecond < total; i++ {
			time.Sleep(100 * time.Millisecond)
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
		}
		io.WriteString(w, "data: end\n\n")
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// rawPost sends a POST's headers on c for a body of n bytes.
func rawPost(c net.Conn, host string, n int) {
	fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", host, n)
}

func TestSlowSteadyUploadPasses(t *testing.T) {
	t.Parallel()
	b1, _ := backend(t, "b1")
	_, url := proxyWith(t, router.Config{MinBodyRate: 1000, BodyRateWindow: 2 * time.Second},
		map[string][]string{"up.example.com": {b1}})
	c := dialRaw(t, strings.TrimPrefix(url, "http://"))
	// 300 bytes every 100ms: 3000 bytes/s for 5s, two and a half windows.
	const chunks = 50
	rawPost(c, "up.example.com", chunks*300)
	for range chunks {
		time.Sleep(100 * time.Millisecond)
		if _, err := c.Write([]byte(strings.Repeat("u", 300))); err != nil {
			t.Fatalf("the router stopped the upload: %v", err)
		}
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), strings.Repeat("u", chunks*300)) {
		t.Fatalf("%d %.200q", resp.StatusCode, b)
	}
}

func TestSlowInstanceDoesNotCutUpload(t *testing.T) {
	t.Parallel()
	// The instance reads nothing for three windows: the router stops
	// reading the client, whose upload stalls through no fault of its own.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(3 * time.Second)
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d %v", n, err)
	}))
	t.Cleanup(srv.Close)
	_, url := proxyWith(t, router.Config{MinBodyRate: 1000, BodyRateWindow: time.Second},
		map[string][]string{"up.example.com": {srv.Listener.Addr().String()}})
	const size = 32 << 20 // more than the socket buffers on the way hold
	req, _ := http.NewRequest("POST", url+"/", strings.NewReader(strings.Repeat("s", size)))
	req.Host = "up.example.com"
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != fmt.Sprintf("%d <nil>", size) {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
}

func TestTricklingBodyIsCut(t *testing.T) {
	t.Parallel()
	b1, _ := backend(t, "b1")
	_, url := proxyWith(t, router.Config{MinBodyRate: 1000, BodyRateWindow: time.Second},
		map[string][]string{"up.example.com": {b1}})
	addr := strings.TrimPrefix(url, "http://")
	for _, burst := range []int{0, 20000} {
		c := dialRaw(t, addr)
		rawPost(c, "up.example.com", burst+100)
		// A burst earns at most one window of credit: a pause after it
		// is cut like a trickle from the start.
		c.Write([]byte(strings.Repeat("b", burst)))
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			for range 20 { // 1 byte every 2s: 0.5 bytes/s
				time.Sleep(2 * time.Second)
				if _, err := c.Write([]byte("t")); err != nil {
					return
				}
			}
		}()
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("burst %d: no answer: %v", burst, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), "slower than 1000 bytes/s") {
			t.Fatalf("burst %d: %d %q, want 408", burst, resp.StatusCode, b)
		}
		if !closedWithin(c, 10*time.Second) {
			t.Fatalf("burst %d: the connection stayed open after the 408", burst)
		}
		c.Close()
		<-stopped
	}
}

func TestForwardedChain(t *testing.T) {
	b1, _ := backend(t, "b1")
	client := http.Header{
		"X-Forwarded-For":   {"203.0.113.7, 198.51.100.2"},
		"X-Forwarded-Proto": {"https"},
		"X-Forwarded-Host":  {"shop.example.com"},
	}
	type want struct{ xff, proto, host string }
	edge := want{"127.0.0.1", "http", "internal.example.com"}
	chain := want{"203.0.113.7, 198.51.100.2, 127.0.0.1", "https", "shop.example.com"}
	for _, tc := range []struct {
		trust string
		want  want
	}{
		{"", edge},
		{"10.0.0.0/8, fd00::/8", edge},
		{"127.0.0.0/8", chain},
		{"10.1.2.3,127.0.0.1", chain},
		{"::ffff:127.0.0.1/128", chain},
	} {
		trusted, err := router.ParseTrustedProxies(tc.trust)
		if err != nil {
			t.Fatal(err)
		}
		for _, rpOnly := range []bool{false, true} {
			_, url := proxyWith(t, router.Config{TrustForwarded: trusted, ReverseProxyOnly: rpOnly},
				map[string][]string{"internal.example.com": {b1}})
			for _, method := range []string{"GET", "POST"} {
				body := ""
				if method == "POST" {
					body = "x"
				}
				h := do(t, method, url+"/", "internal.example.com", body, client).seen.Header
				got := want{h.Get("X-Forwarded-For"), h.Get("X-Forwarded-Proto"), h.Get("X-Forwarded-Host")}
				if got != tc.want {
					t.Errorf("trust %q, %s, reverse proxy only %v: got %+v, want %+v", tc.trust, method, rpOnly, got, tc.want)
				}
			}
		}
	}
}

func TestParseTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{in: "", want: nil},
		{in: " , ", want: nil},
		{in: "10.0.0.0/8", want: []string{"10.0.0.0/8"}},
		{in: "10.1.2.3/8", want: []string{"10.0.0.0/8"}},
		{in: "192.0.2.1, 2001:db8::/32", want: []string{"192.0.2.1/32", "2001:db8::/32"}},
		{in: "::ffff:10.0.0.0/104", want: []string{"10.0.0.0/8"}},
		{in: "::ffff:192.0.2.1", want: []string{"192.0.2.1/32"}},
		{in: "10.0.0.0/33", err: `"10.0.0.0/33" is not a CIDR`},
		{in: "proxy.example.com", err: `"proxy.example.com" is neither a CIDR`},
		{in: "10.0.0.0/8,,nope", err: `"nope" is neither`},
	} {
		got, err := router.ParseTrustedProxies(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if fmt.Sprint(s) != fmt.Sprint(tc.want) {
			t.Errorf("%q: %v, want %v", tc.in, s, tc.want)
		}
	}
	p, _ := router.ParseTrustedProxies("::ffff:10.0.0.0/104")
	if !p[0].Contains(netip.MustParseAddr("10.9.8.7")) {
		t.Error("a v4-mapped prefix does not contain the v4 address")
	}
}

func TestPingBeforeFirstTable(t *testing.T) {
	r, url := proxyWith(t, router.Config{}, nil)
	if a := do(t, "GET", url+"/_ping", "any.example.com", "", nil); a.status != 503 || !strings.Contains(a.body, "not received a routing table") {
		t.Fatalf("before the first table: %d %q", a.status, a.body)
	}
	r.Apply(cluster.RoutingTable{Version: 1, Routes: map[string][]string{}})
	if a := do(t, "GET", url+"/_ping", "any.example.com", "", nil); a.status != 200 || a.body != "pong" {
		t.Fatalf("after the first table: %d %q", a.status, a.body)
	}
}

func TestStreamedAnswerToAPostIsNotCut(t *testing.T) {
	t.Parallel()
	// The instance reads the body and streams its answer at once: the
	// router sends the answer's headers while its transport may still be
	// checking that the client's body ended.
	_, url := proxyWith(t, router.Config{MinBodyRate: 1000},
		map[string][]string{"sse.example.com": {streaming(t, 100*time.Millisecond)}})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				req, _ := http.NewRequest("POST", url+"/events", strings.NewReader("x"))
				req.Host = "sse.example.com"
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || !strings.HasSuffix(string(b), "data: end\n\n") {
					t.Errorf("%d %q %v", resp.StatusCode, b, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
