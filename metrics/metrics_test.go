package metrics_test

import (
	"testing"

	"github.com/longshoreman/longshoreman/metrics"
)

func TestMethodLabel(t *testing.T) {
	for method, want := range map[string]string{
		"GET": "GET", "HEAD": "HEAD", "POST": "POST", "PUT": "PUT", "DELETE": "DELETE", "PATCH": "PATCH", "OPTIONS": "OPTIONS",
		"get": "other", "PROPFIND": "other", "CONNECT": "other", "TRACE": "other", "": "other", "X1234567890": "other",
	} {
		if got := metrics.MethodLabel(method); got != want {
			t.Errorf("MethodLabel(%q) = %q, want %q", method, got, want)
		}
	}
}
