package router

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// parseHead parses the request head b (through its empty line) into a
// request for the handler. ok is false when the request is not one the
// loop serves: GET or HEAD in origin form, HTTP/1.1, CRLF line ends, one
// valid Host, at most maxRequestFields valid fields, no body
// (Content-Length or Transfer-Encoding), no Upgrade, Expect or Trailer,
// and Connection naming only close or keep-alive. closeAfter reports
// Connection: close.
func (cc *clientConn) parseHead(b []byte) (req *http.Request, closeAfter, ok bool) {
	rl, ok := parseRequestLine(b)
	if !ok {
		return nil, false, false
	}
	var fields [maxRequestFields]fieldAt
	n, closeAfter, ok := scanFields(b, rl.next, &fields)
	if !ok {
		return nil, false, false
	}
	s := string(b) // one string for the URI, the names and the values
	uri := s[rl.u0:rl.u1]
	u, ok := rl.url(uri)
	if !ok {
		return nil, false, false
	}
	h, host := cc.header(s, fields[:n])
	req = new(http.Request)
	*req = *cc.tmpl
	req.Method, req.URL, req.RequestURI, req.Header, req.Host = rl.method, u, uri, h, host
	req.Close = closeAfter
	return req, closeAfter, true
}

// requestLine is where parseRequestLine found the parts of a request line.
type requestLine struct {
	method  string
	u0, u1  int  // the URI is b[u0:u1]
	escaped bool // url.ParseRequestURI has work to do
	query   int  // the offset of '?' in the URI, or -1
	next    int  // the first field starts here
}

// parseRequestLine parses the first line of b: GET or HEAD, an origin-form
// URI of printable bytes, HTTP/1.1, CRLF.
func parseRequestLine(b []byte) (rl requestLine, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		return rl, false
	}
	line := b[:i-1]
	switch {
	case bytes.HasPrefix(line, []byte("GET ")):
		rl.method = http.MethodGet
	case bytes.HasPrefix(line, []byte("HEAD ")):
		rl.method = http.MethodHead
	default:
		return rl, false
	}
	if !bytes.HasSuffix(line, []byte(" HTTP/1.1")) {
		return rl, false
	}
	rl.u0, rl.u1 = len(rl.method)+1, len(line)-len(" HTTP/1.1")
	if rl.u1 <= rl.u0 || line[rl.u0] != '/' {
		return rl, false
	}
	for _, c := range line[rl.u0:rl.u1] {
		if c <= ' ' || c >= 0x7f || c == '#' {
			return rl, false
		}
		rl.escaped = rl.escaped || !plainURIByte[c]
	}
	rl.query = bytes.IndexByte(line[rl.u0:rl.u1], '?')
	rl.next = i + 1
	return rl, true
}

// url is the request's URL, uri being the URI the line holds.
func (rl *requestLine) url(uri string) (*url.URL, bool) {
	if rl.escaped {
		u, err := url.ParseRequestURI(uri)
		return u, err == nil
	}
	u := &url.URL{Path: uri}
	if q := rl.query; q >= 0 {
		u.Path, u.RawQuery = uri[:q], uri[q+1:]
		u.ForceQuery = q+1 == len(uri)
	}
	return u, true
}

// scanFields finds the header fields of b from p to the empty line, at
// most maxRequestFields, and checks them: one valid Host, no body, no
// Upgrade, Expect or Trailer, and Connection naming only close or
// keep-alive (closeAfter reports close).
func scanFields(b []byte, p int, fields *[maxRequestFields]fieldAt) (n int, closeAfter, ok bool) {
	hosts := 0
	for p < len(b) {
		e := p + bytes.IndexByte(b[p:], '\n')
		if e == p || b[e-1] != '\r' {
			return 0, false, false // a bare LF
		}
		if e == p+1 {
			break
		}
		if n == maxRequestFields {
			return 0, false, false
		}
		f, fok := field(b, p, e-1)
		if !fok {
			return 0, false, false
		}
		fields[n] = f
		n++
		p = e + 1
		k, v := b[f.k0:f.k1], b[f.v0:f.v1]
		switch {
		case asciiEqualFold(k, "Host"):
			hosts++
			if !validHost(v) {
				return 0, false, false
			}
		case asciiEqualFold(k, "Content-Length"), asciiEqualFold(k, "Transfer-Encoding"),
			asciiEqualFold(k, "Upgrade"), asciiEqualFold(k, "Expect"), asciiEqualFold(k, "Trailer"):
			return 0, false, false
		case asciiEqualFold(k, "Connection"):
			c, cok := connectionClose(v)
			if !cok {
				return 0, false, false
			}
			closeAfter = closeAfter || c
		}
	}
	return n, closeAfter, hosts == 1
}

// connectionClose reads a Connection value: it names close, or only
// keep-alive; ok is false for any other token.
func connectionClose(v []byte) (closeAfter, ok bool) {
	for len(v) > 0 {
		var tok []byte
		tok, v, _ = bytes.Cut(v, []byte(","))
		tok = trimBlanks(tok)
		switch {
		case asciiEqualFold(tok, "close"):
			closeAfter = true
		case len(tok) == 0, asciiEqualFold(tok, "keep-alive"):
		default:
			return false, false
		}
	}
	return closeAfter, true
}

// header fills the connection's reused header map from the fields of s,
// and returns the Host apart, as net/http does.
func (cc *clientConn) header(s string, fields []fieldAt) (h http.Header, host string) {
	h = cc.reqHead
	clear(h)
	vals := make([]string, len(fields))
	for j, f := range fields {
		k := s[f.k0:f.k1]
		if !f.canonical {
			k = http.CanonicalHeaderKey(k)
		}
		v := s[f.v0:f.v1]
		if k == "Host" {
			host = v
			continue // as net/http: the Host is in req.Host only
		}
		if old, ok := h[k]; ok {
			h[k] = append(old, v)
			continue
		}
		vals[j] = v
		h[k] = vals[j : j+1 : j+1]
	}
	return h, host
}

// plainURIByte says which bytes of a URI url.ParseRequestURI keeps as
// they are in the Path and RawQuery, with no RawPath.
var plainURIByte = alnumAnd("-._~/$&+,:;=@?")

// validHost reports whether v is a Host value the loop passes on: a name,
// IPv4 or bracketed IPv6 address with an optional port. Anything else
// goes to the http.Server, which answers 400 where it must.
func validHost(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	for _, c := range v {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_') {
			return false
		}
	}
	return true
}

// connWriter is the http.ResponseWriter of a request served by the loop.
// An answer with a Content-Length is sent as it is; one without (and
// with a body) is chunked.
type connWriter struct {
	cc      *clientConn
	req     *http.Request
	header  http.Header
	wrote   bool  // the head is in the buffer
	noBody  bool  // HEAD, 204, 304: no body is sent
	chunked bool  // the body is sent chunked
	length  int64 // the Content-Length given, -1 none
	n       int64 // body bytes written
	status  int   // the status sent, 0 before
	close   bool  // the connection closes after this answer
	err     error // the first write error: the connection is done
}

func (w *connWriter) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header, 4)
	}
	return w.header
}

func (w *connWriter) WriteHeader(status int) {
	if w.wrote {
		return
	}
	if status < 200 {
		return // the loop sends no informational answers
	}
	w.wrote = true
	w.status = status
	h := w.header
	w.noBody = w.req.Method == http.MethodHead || status == http.StatusNoContent || status == http.StatusNotModified
	if v := h["Content-Length"]; len(v) == 1 {
		if w.length = parseLength([]byte(v[0])); w.length < 0 {
			delete(h, "Content-Length")
		}
	} else if len(v) > 1 {
		delete(h, "Content-Length")
	}
	if w.length < 0 && !w.noBody {
		w.chunked = true
	}
	for _, v := range h["Connection"] {
		if v == "close" {
			w.close = true
		}
	}
	if w.cc.srv.shutting.Load() {
		w.close = true // the server is shutting down: no next request
	}
	// The head is built in the writer's free space and written at once.
	bw := w.cc.bw
	p := bw.AvailableBuffer()
	p = append(p, "HTTP/1.1 "...)
	p = strconv.AppendInt(p, int64(status), 10)
	p = append(p, ' ')
	p = append(p, http.StatusText(status)...)
	p = append(p, "\r\n"...)
	for k, vv := range h {
		if k == "Connection" || k == "Transfer-Encoding" {
			continue
		}
		for _, v := range vv {
			p = append(p, k...)
			p = append(p, ": "...)
			p = appendValue(p, v)
			p = append(p, "\r\n"...)
		}
	}
	if _, ok := h["Date"]; !ok {
		p = append(p, "Date: "...)
		p = append(p, httpDate()...)
		p = append(p, "\r\n"...)
	}
	if w.chunked {
		p = append(p, "Transfer-Encoding: chunked\r\n"...)
	}
	if w.close {
		p = append(p, "Connection: close\r\n"...)
	}
	p = append(p, "\r\n"...)
	bw.Write(p)
}

// appendValue appends a header value with CR and LF replaced by spaces,
// as net/http does, so no value can start a line of its own.
func appendValue(p []byte, v string) []byte {
	if strings.IndexByte(v, '\n') < 0 && strings.IndexByte(v, '\r') < 0 {
		return append(p, v...)
	}
	for j := 0; j < len(v); j++ {
		c := v[j]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		p = append(p, c)
	}
	return p
}

func (w *connWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.noBody {
		if w.req.Method == http.MethodHead {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	if w.length >= 0 && w.n+int64(len(p)) > w.length {
		return 0, http.ErrContentLength
	}
	if len(p) == 0 {
		return 0, nil
	}
	bw := w.cc.bw
	if w.chunked {
		var hex [16]byte
		bw.Write(strconv.AppendInt(hex[:0], int64(len(p)), 16))
		bw.WriteString("\r\n")
	}
	n, err := bw.Write(p)
	if err == nil && w.chunked {
		_, err = bw.WriteString("\r\n")
	}
	w.n += int64(n)
	if err != nil {
		w.err = err
	}
	return n, err
}

// Flush sends what is buffered: streamed answers reach the client at once.
func (w *connWriter) Flush() {
	_ = w.FlushError()
}

// FlushError is Flush reporting the write error, for
// http.ResponseController.
func (w *connWriter) FlushError() error {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return w.err
	}
	if err := w.cc.bw.Flush(); err != nil {
		w.err = err
	}
	return w.err
}

// errShortBody: the handler wrote less than its Content-Length.
var errShortBody = errors.New("answer shorter than its Content-Length")

// finish ends the answer and sends it. An error means the connection is
// out of step and must close.
func (w *connWriter) finish() error {
	if !w.wrote {
		if w.header == nil || w.header["Content-Length"] == nil {
			w.Header()["Content-Length"] = []string{"0"} // nothing was written
		}
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return w.err
	}
	if w.chunked {
		bw := w.cc.bw
		bw.WriteString("0\r\n")
		for _, keys := range w.header["Trailer"] {
			for k := range strings.SplitSeq(keys, ",") {
				k = http.CanonicalHeaderKey(strings.TrimSpace(k))
				for _, v := range w.header[k] {
					line := append(append(bw.AvailableBuffer(), k...), ": "...)
					bw.Write(append(appendValue(line, v), "\r\n"...))
				}
			}
		}
		bw.WriteString("\r\n")
	} else if !w.noBody && w.n < w.length {
		w.cc.bw.Flush()
		return errShortBody
	}
	if err := w.cc.bw.Flush(); err != nil {
		return err
	}
	return nil
}

// httpDate returns the Date header's value for now, formatted once a
// second.
func httpDate() string {
	now := time.Now().Unix()
	if d := cachedDate.Load(); d != nil && d.unix == now {
		return d.text
	}
	d := &dateText{unix: now, text: time.Unix(now, 0).UTC().Format(http.TimeFormat)}
	cachedDate.Store(d)
	return d.text
}

type dateText struct {
	unix int64
	text string
}

var cachedDate atomic.Pointer[dateText]
