package router

import (
	"bufio"
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// TestParseHead: which request heads the connection loop serves itself,
// and that those it serves read exactly as net/http reads them.
func TestParseHead(t *testing.T) {
	for _, tc := range []struct {
		head  string
		ok    bool
		close bool
	}{
		{"GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n", true, false},
		{"HEAD /x?y=1&z HTTP/1.1\r\nhost: A.example.com:8080\r\nuser-agent: t\r\nAccept: */*\r\nAccept: text/plain\r\n\r\n", true, false},
		{"GET /a%20b?q HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n", true, true},
		{"GET /? HTTP/1.1\r\nHost: [::1]:80\r\nX-Empty:\r\nX-Pad:  v \t\r\n\r\n", true, false},
		// Everything below goes to the http.Server.
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", false, false},
		{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", false, false},
		{"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", false, false},
		{"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", false, false},
		{"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n", false, false},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: x-custom\r\n\r\n", false, false},
		{"GET / HTTP/1.0\r\nHost: a\r\n\r\n", false, false},
		{"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", false, false},
		{"GET * HTTP/1.1\r\nHost: a\r\n\r\n", false, false},
		{"GET /#f HTTP/1.1\r\nHost: a\r\n\r\n", false, false},
		{"GET / HTTP/1.1\nHost: a\n\n", false, false},
		{"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", false, false},
		{"GET / HTTP/1.1\r\nHost a\r\n\r\n", false, false},
		{"GET / HTTP/1.1\r\n\r\n", false, false},
		{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", false, false},
		{"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", false, false},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n", false, false},
		{"get / HTTP/1.1\r\nHost: a\r\n\r\n", false, false},
		{"GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", false, false},
		{"GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X-A: b\r\n", maxRequestFields) + "\r\n", false, false},
	} {
		cc := &clientConn{reqHead: http.Header{}, tmpl: (&http.Request{Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Body: http.NoBody}).WithContext(context.Background())}
		req, closeAfter, ok := cc.parseHead([]byte(tc.head))
		if ok != tc.ok || closeAfter != tc.close {
			t.Errorf("%q: ok %v, close %v; want %v, %v", tc.head, ok, closeAfter, tc.ok, tc.close)
			continue
		}
		if !ok {
			continue
		}
		want, err := http.ReadRequest(bufio.NewReader(strings.NewReader(tc.head)))
		if err != nil {
			t.Errorf("%q: served by the loop, but net/http rejects it: %v", tc.head, err)
			continue
		}
		if req.Method != want.Method || req.RequestURI != want.RequestURI || req.Host != want.Host ||
			*req.URL != *want.URL || req.Close != want.Close || !reflect.DeepEqual(req.Header, want.Header) {
			t.Errorf("%q: the loop reads %s %s %q %+v %v, net/http %s %s %q %+v %v", tc.head,
				req.Method, req.RequestURI, req.Host, req.Header, req.Close, want.Method, want.RequestURI, want.Host, want.Header, want.Close)
		}
	}
}

// FuzzParseHead: any head the loop serves itself, net/http reads the same
// way (method, URI, URL, Host, fields, Connection: close).
func FuzzParseHead(f *testing.F) {
	f.Add("GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
	f.Add("HEAD /x?y=1 HTTP/1.1\r\nhost: a:80\r\naccept: */*\r\nConnection: close\r\n\r\n")
	f.Add("GET /a%2Fb HTTP/1.1\r\nHost: [::1]\r\nX: \t v\r\n\r\n")
	f.Fuzz(func(t *testing.T, head string) {
		b := []byte(head)
		end := headEnd(b)
		if end < 0 || end > connHeadSize {
			return
		}
		cc := &clientConn{reqHead: http.Header{}, tmpl: (&http.Request{}).WithContext(context.Background())}
		req, closeAfter, ok := cc.parseHead(b[:end])
		if !ok {
			return
		}
		want, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head[:end])))
		if err != nil {
			t.Fatalf("%q: served by the loop, but net/http rejects it: %v", head[:end], err)
		}
		if req.Method != want.Method || req.RequestURI != want.RequestURI || req.Host != want.Host ||
			*req.URL != *want.URL || closeAfter != want.Close || !reflect.DeepEqual(req.Header, want.Header) {
			t.Fatalf("%q: the loop reads %s %s %q %+v %v, net/http %s %s %q %+v %v", head[:end],
				req.Method, req.RequestURI, req.Host, req.Header, closeAfter, want.Method, want.RequestURI, want.Host, want.Header, want.Close)
		}
	})
}
