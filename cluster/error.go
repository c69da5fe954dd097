package cluster

import (
	"errors"
	"fmt"
)

// Error codes. The HTTP layer maps each to one status in one place.
const (
	ECONFLICT     = "conflict"     // 409: the request collides with work under way or with state
	EINTERNAL     = "internal"     // 500: a bug
	EINVALID      = "invalid"      // 400: bad input
	ENOTFOUND     = "not_found"    // 404: unknown app, host or revision
	EUNAUTHORIZED = "unauthorized" // 401: missing or wrong token
	EHOST         = "host"         // 502: a Docker host failed
	EUNAVAILABLE  = "unavailable"  // 503: no host can take the work
	EMETHOD       = "method"       // 405: the path exists, the method does not
	ETOOLARGE     = "too_large"    // 413: the request body is over the limit
	EDEPLOY       = "deploy"       // 502: new instances failed to start or to become healthy
)

// Error is an error a person can act on: Code says what kind of failure it is
// (for the status code), Message says what was wrong and what to do.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("longshoreman error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, and
// "Internal error." for any other error, whose detail must not reach users.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
