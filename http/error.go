package http

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/longshoreman/longshoreman/cluster"
)

var codeStatus = map[string]int{
	cluster.EINVALID:      http.StatusBadRequest,
	cluster.EUNAUTHORIZED: http.StatusUnauthorized,
	cluster.ENOTFOUND:     http.StatusNotFound,
	cluster.EMETHOD:       http.StatusMethodNotAllowed,
	cluster.ECONFLICT:     http.StatusConflict,
	cluster.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	cluster.EHOST:         http.StatusBadGateway,
	cluster.EDEPLOY:       http.StatusBadGateway,
	cluster.EUNAVAILABLE:  http.StatusServiceUnavailable,
	cluster.EINTERNAL:     http.StatusInternalServerError,
}

// ErrorStatusCode returns the HTTP status for an error code. This is the
// only place where statuses are chosen for errors.
func ErrorStatusCode(code string) int {
	if s, ok := codeStatus[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Error writes err as {"error": "message"} with the status of its code.
// Internal errors are logged with their detail and shown as "Internal error.".
func (s *Server) Error(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := cluster.ErrorCode(err), cluster.ErrorMessage(err)
	if code == cluster.EINTERNAL {
		s.Logger.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, ErrorStatusCode(code), map[string]any{"error": msg})
}

// ok writes {"error": false, ...fields} with status 200.
func ok(w http.ResponseWriter, fields map[string]any) {
	if fields == nil {
		fields = map[string]any{}
	}
	fields["error"] = false
	writeJSON(w, http.StatusOK, fields)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// answerCache keeps the encoded answers of read-only endpoints whose body
// depends only on the data file, keyed by the store's generation: as long
// as nothing was written, a request costs a copy of bytes.
type answerCache struct {
	mu      sync.Mutex // guards entries
	entries map[string]cachedAnswer
}

type cachedAnswer struct {
	gen  uint64
	body []byte
}

// okCached writes {"error": false, ...fields} like ok, building fields only
// when the data file changed since the last answer for key.
func (s *Server) okCached(w http.ResponseWriter, r *http.Request, key string, build func() (map[string]any, error)) {
	gen := s.Store.Generation()
	s.answers.mu.Lock()
	a, hit := s.answers.entries[key]
	s.answers.mu.Unlock()
	if !hit || a.gen != gen {
		fields, err := build()
		if err != nil {
			s.Error(w, r, err)
			return
		}
		fields["error"] = false
		body, err := json.Marshal(fields)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		a = cachedAnswer{gen: gen, body: append(body, '\n')}
		s.answers.mu.Lock()
		if s.answers.entries == nil {
			s.answers.entries = map[string]cachedAnswer{}
		}
		s.answers.entries[key] = a
		s.answers.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(a.body)
}
