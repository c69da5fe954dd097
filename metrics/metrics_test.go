package metrics_test

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

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

// TestRequestSeries records requests of two routes and statuses, some
// at once: each lands in its own series of the request histogram, however
// often the series was seen before.
func TestRequestSeries(t *testing.T) {
	m := metrics.New(metrics.Sources{})
	var wg sync.WaitGroup
	for range 3 { // at once: the first request of a series may race another
		wg.Go(func() { m.Request("/apps", "GET", 200, time.Millisecond) })
	}
	wg.Wait()
	m.Request("/apps", "GET", 401, time.Millisecond)
	m.Request("/apps/:app", "PROPFIND", 404, 2*time.Second)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := rec.Body.String()
	for _, want := range []string{
		`longshoreman_http_request_duration_seconds_count{method="GET",route="/apps",status="200"} 3`,
		`longshoreman_http_request_duration_seconds_count{method="GET",route="/apps",status="401"} 1`,
		`longshoreman_http_request_duration_seconds_count{method="other",route="/apps/:app",status="404"} 1`,
		`longshoreman_http_request_duration_seconds_bucket{method="other",route="/apps/:app",status="404",le="1"} 0`,
		`longshoreman_http_request_duration_seconds_bucket{method="GET",route="/apps",status="200",le="0.001"} 3`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", out)
	}
}

// BenchmarkRequest is the cost of recording one API request, paid by
// every request.
func BenchmarkRequest(b *testing.B) {
	m := metrics.New(metrics.Sources{})
	b.ReportAllocs()
	for b.Loop() {
		m.Request("/apps", "GET", 200, time.Millisecond)
	}
}
