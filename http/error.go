package http

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/longshoreman/longshoreman/cluster"
)

var codeStatus = map[string]int{
	cluster.EINVALID:      http.StatusBadRequest,
	cluster.EUNAUTHORIZED: http.StatusUnauthorized,
	cluster.EFORBIDDEN:    http.StatusForbidden,
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

// Error writes err as an ErrorResponse with the status of its code.
// Internal errors are logged with their detail and shown as "Internal error.".
func (s *Server) Error(w http.ResponseWriter, r *http.Request, err error) {
	code := cluster.ErrorCode(err)
	if code == cluster.EINTERNAL {
		s.Logger.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	failed(w, err)
	writeJSON(w, ErrorStatusCode(code), errorResponse(err))
}

// asError returns the first *cluster.Error in err's chain.
func asError(err error) *cluster.Error {
	var e *cluster.Error
	if errors.As(err, &e) {
		return e
	}
	return cluster.Errorf(cluster.EINTERNAL, "Internal error.")
}

// ok writes {"error": false, ...answer's fields} with status 200; answer
// is one of the Response types, or nil for none.
func ok(w http.ResponseWriter, answer any) {
	body, err := answerBody(answer)
	if err != nil {
		panic(err) // the Response types always encode
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// done answers a change: {"error": false} when err is nil, else err, for
// the caller to return.
func done(w http.ResponseWriter, err error) error {
	if err == nil {
		ok(w, nil)
	}
	return err
}

// answerBody encodes answer's fields after "error": false, as one line.
func answerBody(answer any) ([]byte, error) {
	if answer == nil {
		return []byte("{\"error\":false}\n"), nil
	}
	b, err := json.Marshal(answer)
	if err != nil {
		return nil, err
	}
	if string(b) == "{}" {
		return []byte("{\"error\":false}\n"), nil
	}
	return append(append([]byte("{\"error\":false,"), b[1:]...), '\n'), nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// answerCache keeps the encoded answers of read-only endpoints whose body
// depends only on the data file, keyed by the store's generation: as long
// as nothing was written, a request costs a copy of bytes. One slot per
// endpoint, read without a lock.
type answerCache struct {
	apps, describe atomic.Pointer[cachedAnswer]
}

type cachedAnswer struct {
	gen  uint64
	body []byte
}

// jsonType is the Content-Type of every cached answer; a response's header
// gets this slice, which nothing writes into (Set and Add replace or copy
// it).
var jsonType = []string{"application/json"}

// okCached writes {"error": false, ...fields} like ok, building the answer
// only when the data file changed since the answer kept in slot was built.
func (s *Server) okCached(w http.ResponseWriter, r *http.Request, slot *atomic.Pointer[cachedAnswer], build func() (any, error)) {
	gen := s.Store.Generation()
	a := slot.Load()
	if a == nil || a.gen != gen {
		answer, err := build()
		if err != nil {
			s.Error(w, r, err)
			return
		}
		body, err := answerBody(answer)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		a = &cachedAnswer{gen: gen, body: body}
		slot.Store(a)
	}
	w.Header()["Content-Type"] = jsonType // the canonical key, as Set would write it
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(a.body)
}
