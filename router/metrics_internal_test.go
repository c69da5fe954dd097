package router

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The router's metrics are shown only with the router token, and to no
// one when the router has none.
func TestMetricsNeedTheRouterToken(t *testing.T) {
	r := New(Config{})
	for _, tc := range []struct {
		token, auth string
		want        int
	}{
		{"router-token", "", http.StatusUnauthorized},
		{"router-token", "Bearer wrong", http.StatusUnauthorized},
		{"router-token", "Bearer router-token", http.StatusOK},
		{"", "Bearer ", http.StatusUnauthorized},
	} {
		h := statusHandler{r: r, token: tc.token, next: http.NotFoundHandler()}
		req := httptest.NewRequest("GET", MetricsPath, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("router token %q, Authorization %q: %d %s, want %d", tc.token, tc.auth, rec.Code, rec.Body, tc.want)
		}
		if rec.Code == http.StatusOK && !strings.Contains(rec.Body.String(), "longshoreman_router_held_requests 0") {
			t.Errorf("metrics without the held requests:\n%s", rec.Body)
		}
	}
}
