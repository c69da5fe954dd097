package http

import (
	"net/http"
	"time"
)

// StreamWriteTimeout bounds one write of an answer that may last longer than
// the server's write timeout (deploy progress, backups): each write must
// finish within it, however long the whole answer takes.
const StreamWriteTimeout = time.Minute

// streamWriter is an answer exempt from the server's write timeout. Each
// Write moves the connection's write deadline to StreamWriteTimeout from
// now, so a client that stops reading is still cut off, but a long answer
// to one that reads is not.
type streamWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
}

// newStreamWriter lifts the write deadline of w's connection until the
// first write.
func newStreamWriter(w http.ResponseWriter) *streamWriter {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	return &streamWriter{ResponseWriter: w, rc: rc}
}

func (s *streamWriter) Write(p []byte) (int, error) {
	_ = s.rc.SetWriteDeadline(time.Now().Add(StreamWriteTimeout))
	return s.ResponseWriter.Write(p)
}

func (s *streamWriter) WriteHeader(code int) {
	_ = s.rc.SetWriteDeadline(time.Now().Add(StreamWriteTimeout))
	s.ResponseWriter.WriteHeader(code)
}

// Flush sends what is buffered, within StreamWriteTimeout.
func (s *streamWriter) Flush() {
	_ = s.rc.SetWriteDeadline(time.Now().Add(StreamWriteTimeout))
	_ = s.rc.Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *streamWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
