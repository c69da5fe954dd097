package router_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// scripted starts an instance that answers each request with the raw
// answer given for its path, closing the connection after answers that
// end with a close (the text "\x00close" appended). It returns its address
// and a counter of accepted connections.
func scripted(t *testing.T, answers map[string]string) (string, *atomic.Int64) {
	t.Helper()
	return serveEach(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			a, ok := answers[req.URL.Path]
			if !ok {
				a = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
			}
			a, closeAfter := strings.CutSuffix(a, "\x00close")
			if _, err := io.WriteString(c, a); err != nil || closeAfter {
				return
			}
		}
	})
}

// TestAnswerFraming passes answers of every framing through the fast path
// and checks what the client gets, then that the router's connection to
// the instance is still in step: a plain answer after each case must come
// through whole.
func TestAnswerFraming(t *testing.T) {
	big := strings.Repeat("b", 100000)
	longHeader := strings.Repeat("h", 6000)
	addr, _ := scripted(t, map[string]string{
		"/plain":      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\nX-A: 1\r\nx-a: 2\r\n\r\nhello",
		"/chunked":    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 42\r\n\r\n",
		"/untilclose": "HTTP/1.1 200 OK\r\n\r\nhello\x00close",
		"/http10":     "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello\x00close",
		"/connclose":  "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello\x00close",
		"/204":        "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n",
		"/304":        "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nEtag: \"x\"\r\n\r\n",
		"/head":       "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
		"/1xx":        "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"/barelf":     "HTTP/1.1 200 OK\nContent-Length: 5\n\nhello",
		"/connopt":    "HTTP/1.1 200 OK\r\nConnection: X-Private\r\nX-Private: secret\r\nContent-Length: 2\r\n\r\nok",
		"/hopbyhop":   "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nContent-Length: 2\r\n\r\nok",
		"/longhead":   "HTTP/1.1 200 OK\r\nX-Long: " + longHeader + "\r\nContent-Length: 2\r\n\r\nok",
		"/twolengths": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"/extra":      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK",
		"/big":        "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + big,
		"/fold":       "HTTP/1.1 200 OK\r\nX-F: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
		"/noreason":   "HTTP/1.1 201\r\nContent-Length: 2\r\n\r\nok",
		"/status999":  "HTTP/1.1 999 Odd\r\nContent-Length: 2\r\n\r\nok",
	})
	_, url := proxy(t, map[string][]string{"a.example.com": {addr}})
	cases := []struct {
		method, path string
		status       int
		body         string
		header       map[string]string // "" means absent
		trailer      map[string]string
	}{
		{"GET", "/plain", 200, "hello", map[string]string{"Content-Type": "text/plain", "X-A": "1,2", "Content-Length": "5"}, nil},
		{"GET", "/chunked", 200, "hello", nil, map[string]string{"X-Sum": "42"}},
		{"GET", "/untilclose", 200, "hello", nil, nil},
		{"GET", "/http10", 200, "hello", nil, nil},
		{"GET", "/connclose", 200, "hello", map[string]string{"Connection": ""}, nil},
		{"GET", "/204", 204, "", map[string]string{"X-A": "1"}, nil},
		{"GET", "/304", 304, "", map[string]string{"Etag": `"x"`}, nil},
		{"HEAD", "/head", 200, "", map[string]string{"Content-Length": "5"}, nil},
		{"GET", "/1xx", 200, "ok", nil, nil},
		{"GET", "/barelf", 200, "hello", nil, nil},
		{"GET", "/connopt", 200, "ok", map[string]string{"X-Private": ""}, nil},
		{"GET", "/hopbyhop", 200, "ok", map[string]string{"Keep-Alive": "", "Proxy-Authenticate": ""}, nil},
		{"GET", "/longhead", 200, "ok", map[string]string{"X-Long": longHeader}, nil},
		{"GET", "/twolengths", 502, "", nil, nil},
		{"GET", "/extra", 200, "ok", nil, nil},
		{"GET", "/big", 200, big, nil, nil},
		{"GET", "/fold", 200, "ok", map[string]string{"X-F": "a b"}, nil},
		{"GET", "/noreason", 201, "ok", nil, nil},
		{"GET", "/status999", 999, "ok", nil, nil},
	}
	for _, c := range cases {
		t.Run(strings.TrimPrefix(c.path, "/"), func(t *testing.T) {
			req, _ := http.NewRequest(c.method, url+c.path, nil)
			req.Host = "a.example.com"
			resp, err := testClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("body: %v", err)
			}
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d (body %.100q)", resp.StatusCode, c.status, b)
			}
			if c.status != 502 && string(b) != c.body {
				t.Fatalf("body %.100q, want %.100q", b, c.body)
			}
			for k, want := range c.header {
				if got := strings.Join(resp.Header.Values(k), ","); got != want {
					t.Errorf("header %s = %.100q, want %.100q", k, got, want)
				}
			}
			for k, want := range c.trailer {
				if got := resp.Trailer.Get(k); got != want {
					t.Errorf("trailer %s = %q, want %q", k, got, want)
				}
			}
			// The next answer on the router's connections must be whole.
			if a := do(t, "GET", url+"/plain", "a.example.com", "", nil); a.status != 200 || a.body != "hello" {
				t.Fatalf("after %s: %d %q", c.path, a.status, a.body)
			}
		})
	}
}

// TestPlainAnswersReuseTheConnection checks that the fast path keeps the
// instance's connection after answers it frames itself, and drops it after
// one that told it to close.
func TestPlainAnswersReuseTheConnection(t *testing.T) {
	addr, accepted := scripted(t, map[string]string{
		"/plain":     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"/204":       "HTTP/1.1 204 No Content\r\n\r\n",
		"/connclose": "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello\x00close",
	})
	_, url := proxy(t, map[string][]string{"a.example.com": {addr}})
	for i, p := range []string{"/plain", "/plain", "/204", "/plain", "/connclose", "/plain", "/plain"} {
		a := do(t, "GET", url+p, "a.example.com", "", nil)
		if a.status/100 != 2 {
			t.Fatalf("%d %s: %d %q", i, p, a.status, a.body)
		}
		want := int64(1)
		if i > 4 {
			want = 2 // the close made the router dial again, once
		}
		if n := accepted.Load(); n != want {
			t.Fatalf("after request %d (%s): %d connections to the instance, want %d", i, p, n, want)
		}
	}
}
