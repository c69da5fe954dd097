package router_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/longshoreman/longshoreman/router"
)

// BenchmarkProxyGET measures a small GET through the router to a local
// instance over keep-alive connections, on the fast path and through the
// reverse proxy.
func BenchmarkProxyGET(b *testing.B) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer be.Close()
	for _, rpOnly := range []bool{false, true} {
		name := "fast"
		if rpOnly {
			name = "reverseproxy"
		}
		b.Run(name, func(b *testing.B) {
			_, url := proxyWith(b, router.Config{ReverseProxyOnly: rpOnly}, map[string][]string{"a.example.com": {be.Listener.Addr().String()}})
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer client.CloseIdleConnections()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("GET", url+"/", nil)
					req.Host = "a.example.com"
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}
