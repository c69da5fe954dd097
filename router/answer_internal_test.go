package router

import (
	"net/http"
	"strings"
	"testing"
)

func TestParsePlainHead(t *testing.T) {
	cases := []struct {
		name, head, method string
		ok                 bool
		want               plainHead
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "GET", true, plainHead{status: 200, bodyLen: 5}},
		{"no reason", "HTTP/1.1 404\r\ncontent-length: 0\r\n\r\n", "GET", true, plainHead{status: 404}},
		{"blanks around the value", "HTTP/1.1 200 OK\r\nContent-Length: \t12 \r\n\r\n", "GET", true, plainHead{status: 200, bodyLen: 12}},
		{"close", "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 1\r\n\r\n", "GET", true, plainHead{status: 200, bodyLen: 1, close: true}},
		{"HEAD ignores the length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD", true, plainHead{status: 200}},
		{"HEAD without a length", "HTTP/1.1 200 OK\r\n\r\n", "HEAD", true, plainHead{status: 200}},
		{"204", "HTTP/1.1 204 No Content\r\n\r\n", "GET", true, plainHead{status: 204}},
		{"304 with a length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", "GET", true, plainHead{status: 304}},

		{"incomplete", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", "GET", false, plainHead{}},
		{"read until close", "HTTP/1.1 200 OK\r\n\r\nhello", "GET", false, plainHead{}},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", false, plainHead{}},
		{"chunked and a length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", false, plainHead{}},
		{"trailer", "HTTP/1.1 200 OK\r\nTrailer: X\r\nContent-Length: 5\r\n\r\n", "GET", false, plainHead{}},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", "GET", false, plainHead{}},
		{"signed length", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", "GET", false, plainHead{}},
		{"list as length", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", "GET", false, plainHead{}},
		{"huge length", "HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456789\r\n\r\n", "GET", false, plainHead{}},
		{"empty length", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", "GET", false, plainHead{}},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", "GET", false, plainHead{}},
		{"1xx", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", "GET", false, plainHead{}},
		{"101", "HTTP/1.1 101 Switching Protocols\r\n\r\n", "GET", false, plainHead{}},
		{"status 600", "HTTP/1.1 600 X\r\nContent-Length: 0\r\n\r\n", "GET", false, plainHead{}},
		{"short status", "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n", "GET", false, plainHead{}},
		{"status run-on", "HTTP/1.1 2000\r\nContent-Length: 0\r\n\r\n", "GET", false, plainHead{}},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 5\n\n", "GET", false, plainHead{}},
		{"bare LF in a field", "HTTP/1.1 200 OK\r\nX: a\nContent-Length: 5\r\n\r\n", "GET", false, plainHead{}},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 5\r\n\r\n", "GET", false, plainHead{}},
		{"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", "GET", false, plainHead{}},
		{"no colon", "HTTP/1.1 200 OK\r\nContent-Length 5\r\n\r\n", "GET", false, plainHead{}},
		{"CR in a value", "HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 5\r\n\r\n", "GET", false, plainHead{}},
		{"NUL in a value", "HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 5\r\n\r\n", "GET", false, plainHead{}},
		{"connection option", "HTTP/1.1 200 OK\r\nConnection: X-Secret\r\nContent-Length: 5\r\n\r\n", "GET", false, plainHead{}},
		{"empty name", "HTTP/1.1 200 OK\r\n: x\r\nContent-Length: 5\r\n\r\n", "GET", false, plainHead{}},
		{"bare LF ending the head", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\n", "GET", false, plainHead{}},
		{"bare LF status line", "HTTP/1.1 200 OK\nContent-Length: 5\r\n\r\n", "GET", false, plainHead{}},
		{"too many fields", "HTTP/1.1 200 OK\r\n" + strings.Repeat("X: y\r\n", maxPlainFields) + "Content-Length: 5\r\n\r\n", "GET", false, plainHead{}},
		{"most fields", "HTTP/1.1 200 OK\r\n" + strings.Repeat("X: y\r\n", maxPlainFields-1) + "Content-Length: 5\r\n\r\n", "GET", true, plainHead{status: 200, bodyLen: 5}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, ok := parsePlainHead([]byte(c.head), c.method)
			if ok != c.ok {
				t.Fatalf("ok %v, want %v (%+v)", ok, c.ok, h)
			}
			if !ok {
				return
			}
			c.want.size = headEnd([]byte(c.head))
			got := plainHead{status: h.status, size: h.size, bodyLen: h.bodyLen, close: h.close}
			if got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestHeadEnd(t *testing.T) {
	for head, want := range map[string]int{
		"":                                    -1,
		"HTTP/1.1 200 OK\r\n":                 -1,
		"HTTP/1.1 200 OK\r\n\r":               -1,
		"HTTP/1.1 200 OK\r\n\r\n":             19,
		"HTTP/1.1 200 OK\n\nbody":             17,
		"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody": 25,
	} {
		if got := headEnd([]byte(head)); got != want {
			t.Errorf("headEnd(%q) = %d, want %d", head, got, want)
		}
	}
}

func TestCopyHead(t *testing.T) {
	head := "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nX-A:1\r\nx-a: 2 \r\nKeep-Alive: timeout=5\r\nConnection: close\r\nContent-Length: 5\r\nEmpty:\r\n\r\nhello"
	p, ok := parsePlainHead([]byte(head), "GET")
	if !ok {
		t.Fatal("not parsed")
	}
	h := http.Header{}
	copyHead(h, []byte(head)[:p.size], &p)
	want := http.Header{"Content-Type": {"text/plain"}, "X-A": {"1", "2"}, "Content-Length": {"5"}, "Empty": {""}}
	if len(h) != len(want) {
		t.Fatalf("got %v, want %v", h, want)
	}
	for k, v := range want {
		if got := h[k]; len(got) != len(v) || len(v) > 0 && got[0] != v[0] || len(v) > 1 && got[1] != v[1] {
			t.Fatalf("%s: got %q, want %q", k, got, v)
		}
	}
}
