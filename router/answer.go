package router

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
)

// The fast path passes on the common answer, a final status with its body
// framed by one Content-Length, without http.ReadResponse: it reads the
// head in place in the connection's buffer, copies the header lines into
// the client's header map with one string and one slice for all of them,
// and copies the body straight out of the buffer. Every other answer (1xx,
// chunked or read-until-close bodies, HTTP/1.0, obs-fold, Connection
// options, a head larger than the buffer) is left untouched in the buffer
// for http.ReadResponse, so its framing stays net/http's.

// maxPlainFields is the most header fields of an answer the fast path
// frames itself; an answer with more goes through http.ReadResponse.
const maxPlainFields = 32

// plainHead is the head of an answer the fast path frames itself.
type plainHead struct {
	status  int
	size    int   // bytes of the head, through its empty line
	bodyLen int64 // bytes of body that follow the head
	close   bool  // Connection: close: the instance closes after the body
	n       int   // fields in use
	fields  [maxPlainFields]fieldAt
}

// fieldAt locates a header field in the head: name b[k0:k1], value
// b[v0:v1]; canonical says whether the name is in canonical form.
type fieldAt struct {
	k0, k1, v0, v1 uint16
	canonical      bool
}

// parsePlainHead parses the head at the start of b (an answer to a request
// made with method). It returns ok false when b holds no complete head or
// the answer is not one parsePlainHead frames: HTTP/1.1 with a status from
// 200 to 599, CRLF line ends, valid field names and values, at most
// maxPlainFields fields, no Transfer-Encoding or Trailer, at most one
// Content-Length (required unless the answer has no body: HEAD, 204, 304),
// Connection naming only close or keep-alive. It does not allocate.
func parsePlainHead(b []byte, method string) (h plainHead, ok bool) {
	end := headEnd(b)
	if end < 0 || end > 1<<16-1 {
		return h, false
	}
	i := bytes.IndexByte(b, '\n')
	line := b[:i+1]
	if len(line) < 14 || string(line[:9]) != "HTTP/1.1 " || line[len(line)-2] != '\r' || len(line) > 14 && line[12] != ' ' {
		return h, false
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return h, false
		}
		h.status = h.status*10 + int(c-'0')
	}
	if h.status < 200 || h.status > 599 {
		return h, false
	}
	h.bodyLen = -1
	for p := i + 1; p < end; {
		e := p + bytes.IndexByte(b[p:end], '\n')
		if e == p || b[e-1] != '\r' {
			return h, false // a bare LF
		}
		if e == p+1 {
			break // the empty line ending the head
		}
		if h.n == maxPlainFields {
			return h, false
		}
		f, ok := field(b, p, e-1)
		if !ok {
			return h, false
		}
		h.fields[h.n] = f
		h.n++
		p = e + 1
		k, v := b[f.k0:f.k1], b[f.v0:f.v1]
		if len(k) < 7 || len(k) > 17 {
			continue // not a field that frames the answer
		}
		switch {
		case asciiEqualFold(k, "Content-Length"):
			if h.bodyLen >= 0 {
				return h, false
			}
			if h.bodyLen = parseLength(v); h.bodyLen < 0 {
				return h, false
			}
		case asciiEqualFold(k, "Transfer-Encoding"), asciiEqualFold(k, "Trailer"):
			return h, false
		case asciiEqualFold(k, "Connection"):
			c, ok := connectionClose(v)
			if !ok {
				return h, false
			}
			h.close = h.close || c
		}
	}
	if method == http.MethodHead || h.status == http.StatusNoContent || h.status == http.StatusNotModified {
		h.bodyLen = 0
	} else if h.bodyLen < 0 {
		return h, false
	}
	h.size = end
	return h, true
}

// headEnd returns the length of the head at the start of b, through the
// empty line that ends it (CRLF or a bare LF), or -1 if b holds no
// complete head.
func headEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		if i < len(b) && b[i] == '\n' {
			return i + 1
		}
		if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			return i + 2
		}
	}
}

// field locates the header field in b[p:e] (a line without its CRLF). It
// rejects an empty or invalid name, a line that continues the previous one
// (obs-fold), and control characters in the value.
func field(b []byte, p, e int) (f fieldAt, ok bool) {
	f.k0, f.canonical = uint16(p), true
	upper := true // the next letter starts a word of the name
	i := p
	for ; i < e && b[i] != ':'; i++ {
		c := b[i]
		if !tokenByte[c] {
			return f, false
		}
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			f.canonical = false
		}
		upper = c == '-'
	}
	if i == p || i == e {
		return f, false
	}
	f.k1 = uint16(i)
	for i++; i < e && (b[i] == ' ' || b[i] == '\t'); i++ {
	}
	v1 := e
	for v1 > i && (b[v1-1] == ' ' || b[v1-1] == '\t') {
		v1--
	}
	for _, c := range b[i:v1] {
		if c < ' ' && c != '\t' || c == 0x7f {
			return f, false
		}
	}
	f.v0, f.v1 = uint16(i), uint16(v1)
	return f, true
}

// tokenByte says which bytes may appear in a field name (RFC 9110 tchar).
var tokenByte = alnumAnd("!#$%&'*+-.^_`|~")

// alnumAnd is the table of the bytes that are ASCII letters, digits or
// one of extra.
func alnumAnd(extra string) (t [256]bool) {
	for c := range 256 {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte(extra, byte(c)) >= 0
	}
	return t
}

// parseLength parses a Content-Length value: 1 to 18 digits, else -1.
func parseLength(v []byte) int64 {
	if len(v) == 0 || len(v) > 18 {
		return -1
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// peekPlainHead waits until br holds a whole answer head and parses it
// with parsePlainHead, leaving br unread. ok is false, with a nil error,
// when the answer is one for http.ReadResponse, including a head that
// does not fit in br's buffer.
func peekPlainHead(br *bufio.Reader, method string) (h plainHead, ok bool, err error) {
	for {
		b, _ := br.Peek(br.Buffered())
		if headEnd(b) >= 0 {
			h, ok = parsePlainHead(b, method)
			return h, ok, nil
		}
		if len(b) >= br.Size() {
			return h, false, nil
		}
		if _, err := br.Peek(len(b) + 1); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return h, false, err
		}
	}
}

// copyHead sets h's fields, found in head, in dst, leaving out hop-by-hop
// ones. All the values share one string and one slice.
func copyHead(dst http.Header, head []byte, h *plainHead) {
	s := string(head)
	vals := make([]string, h.n)
	for i, f := range h.fields[:h.n] {
		k := s[f.k0:f.k1]
		if !f.canonical {
			k = http.CanonicalHeaderKey(k)
		}
		if hopByHop(k) {
			continue
		}
		v := s[f.v0:f.v1]
		if old, ok := dst[k]; ok {
			dst[k] = append(old, v)
			continue
		}
		vals[i] = v
		dst[k] = vals[i : i+1 : i+1]
	}
}

// trimBlanks trims spaces and tabs from both ends of b.
func trimBlanks(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// copyBody copies the next n bytes of br to w: first what br already
// holds (small answers arrive with their head), then the rest through a
// pooled buffer.
func copyBody(w io.Writer, br *bufio.Reader, n int64) error {
	if m := min(int64(br.Buffered()), n); m > 0 {
		b, _ := br.Peek(int(m))
		if _, err := w.Write(b); err != nil {
			return err
		}
		br.Discard(int(m))
		n -= m
	}
	if n == 0 {
		return nil
	}
	buf := buffers.Get().(*[]byte)
	defer buffers.Put(buf)
	copied, err := io.CopyBuffer(w, io.LimitReader(br, n), *buf)
	if err == nil && copied < n {
		err = io.ErrUnexpectedEOF
	}
	return err
}
