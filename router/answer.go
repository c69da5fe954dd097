package router

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
)

// The fast path passes on the common answer, a final status with its body
// framed by one Content-Length, without http.ReadResponse: it reads the
// head in place in the connection's buffer, copies the header lines into
// the client's header map with one string and one slice for all of them,
// and copies the body straight out of the buffer. Every other answer (1xx,
// chunked or read-until-close bodies, HTTP/1.0, obs-fold, Connection
// options, a head larger than the buffer) is left untouched in the buffer
// for http.ReadResponse, so its framing stays net/http's.

// plainHead is the head of an answer the fast path frames itself.
type plainHead struct {
	status  int
	size    int   // bytes of the head, through its empty line
	bodyLen int64 // bytes of body that follow the head
	close   bool  // Connection: close: the instance closes after the body
}

// parsePlainHead parses the head at the start of b (an answer to a request
// made with method). It returns ok false when b holds no complete head or
// the answer is not one parsePlainHead frames: HTTP/1.1 with a status from
// 200 to 599, CRLF line ends, valid field names and values, no
// Transfer-Encoding or Trailer, at most one Content-Length (required unless
// the answer has no body: HEAD, 204, 304), Connection naming only close or
// keep-alive. It does not allocate.
func parsePlainHead(b []byte, method string) (h plainHead, ok bool) {
	end := headEnd(b)
	if end < 0 {
		return h, false
	}
	b = b[:end]
	line, rest, ok := cutCRLF(b)
	if !ok || len(line) < 12 || string(line[:9]) != "HTTP/1.1 " || len(line) > 12 && line[12] != ' ' {
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
	for len(rest) > 0 {
		line, rest, ok = cutCRLF(rest)
		if !ok {
			return h, false
		}
		if len(line) == 0 {
			break // the empty line ending the head
		}
		k, v, ok := field(line)
		if !ok {
			return h, false
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
			for len(v) > 0 {
				var tok []byte
				tok, v, _ = bytes.Cut(v, []byte(","))
				tok = bytes.Trim(tok, " \t")
				switch {
				case asciiEqualFold(tok, "close"):
					h.close = true
				case len(tok) == 0, asciiEqualFold(tok, "keep-alive"):
				default:
					return h, false
				}
			}
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

// cutCRLF splits off the first line of b, which must end in CRLF.
func cutCRLF(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		return nil, nil, false
	}
	return b[:i-1], b[i+1:], true
}

// field splits a header line into its name and its value without the
// surrounding blanks. It rejects an empty or invalid name, a line that
// continues the previous one (obs-fold), and control characters in the
// value.
func field(line []byte) (k, v []byte, ok bool) {
	i := bytes.IndexByte(line, ':')
	if i < 1 {
		return nil, nil, false
	}
	k, v = line[:i], bytes.Trim(line[i+1:], " \t")
	for _, c := range k {
		if !tokenByte(c) {
			return nil, nil, false
		}
	}
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return nil, nil, false
		}
	}
	return k, v, true
}

// tokenByte reports whether c may appear in a field name (RFC 9110 tchar).
func tokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
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

// copyHead sets the fields of the head (as parsed by parsePlainHead) in
// dst, leaving out hop-by-hop ones. All the values share one string and
// one slice.
func copyHead(dst http.Header, head []byte) {
	s := string(head)
	_, s, _ = cutString(s) // the status line
	n := 0
	for i := range len(s) {
		if s[i] == '\n' {
			n++
		}
	}
	vals := make([]string, 0, n)
	for {
		var line string
		line, s, _ = cutString(s)
		if line == "" {
			return
		}
		i := 0
		for line[i] != ':' {
			i++
		}
		k := http.CanonicalHeaderKey(line[:i])
		if hopByHop(k) {
			continue
		}
		v := trimBlanks(line[i+1:])
		if old, ok := dst[k]; ok {
			dst[k] = append(old, v)
			continue
		}
		vals = append(vals, v)
		dst[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
}

// cutString splits off the first CRLF-ended line of s.
func cutString(s string) (line, rest string, ok bool) {
	for i := 1; i < len(s); i++ {
		if s[i] == '\n' && s[i-1] == '\r' {
			return s[:i-1], s[i+1:], true
		}
	}
	return s, "", false
}

func trimBlanks(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
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
