package cluster

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// RequestToken returns the token a request carries, in X-Auth or in
// Authorization: Bearer; the controller's API and the router's status
// page read it alike.
func RequestToken(h http.Header) string {
	got := h.Get("X-Auth")
	if got == "" {
		if v := h.Get("Authorization"); len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			got = strings.TrimSpace(v[7:])
		}
	}
	return got
}

// TokenEqual compares two tokens in constant time; an empty token matches
// nothing.
func TokenEqual(got, want string) bool {
	if got == "" || want == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
