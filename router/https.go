package router

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// ChallengePrefix is the path under which the router answers ACME HTTP-01
// challenges, on any host, from the signed routing table's Challenges.
const ChallengePrefix = "/.well-known/acme-challenge/"

// ServerTLSConfig is the router's TLS configuration: TLS 1.2 at least, for
// 1.2 only ECDHE key exchange with AEAD ciphers (1.3's suites are all
// modern and not configurable), X25519 or P-256, HTTP/2 offered before
// HTTP/1.1, and the certificate chosen by getCert from the SNI name.
func ServerTLSConfig(getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
		NextProtos:       []string{"h2", "http/1.1"},
		GetCertificate:   getCert,
	}
}

// httpsFront answers ACME challenges and redirects plain HTTP to HTTPS for
// the apps whose table entry asks for it, before the router proxies.
type httpsFront struct {
	r         *Router
	certs     *certSource // nil: the router serves no HTTPS, so it redirects nothing
	httpsPort int
	next      http.Handler
}

func (h httpsFront) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if token, ok := strings.CutPrefix(req.URL.Path, ChallengePrefix); ok {
		h.answerChallenge(w, token)
		return
	}
	if req.TLS == nil && h.certs != nil && req.URL.Path != PingPath {
		if s := h.r.snap.Load(); s != nil && len(s.table.HTTPS) > 0 {
			if host := canonicalHost(req.Host); s.redirect[host] && h.certs.covers(host) {
				h.redirect(w, req, host)
				return
			}
		}
	}
	h.next.ServeHTTP(w, req)
}

// answerChallenge answers the key authorization of a pending challenge,
// 404 for a token the table does not hold.
func (h httpsFront) answerChallenge(w http.ResponseWriter, token string) {
	var keyAuth string
	if s := h.r.snap.Load(); s != nil {
		keyAuth = s.table.Challenges[token]
	}
	if token == "" || keyAuth == "" {
		plain(w, http.StatusNotFound, "No pending ACME challenge has this token.")
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/plain")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", strconv.Itoa(len(keyAuth)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(keyAuth))
}

// redirect answers 308 to the same host, path and query over HTTPS. A
// router only redirects a host it holds a certificate for: while the
// first certificate of an app is pending, plain HTTP keeps working.
func (h httpsFront) redirect(w http.ResponseWriter, req *http.Request, host string) {
	uri := req.RequestURI
	if !strings.HasPrefix(uri, "/") {
		uri = req.URL.RequestURI()
	}
	loc := "https://" + host
	if h.httpsPort != 443 {
		loc += ":" + strconv.Itoa(h.httpsPort)
	}
	loc += uri
	w.Header().Set("Location", loc)
	plain(w, http.StatusPermanentRedirect, "This app is served over HTTPS: "+loc)
}

// tlsStateKey is the context key under which a connection handed off to
// the http.Server after TLS keeps its TLS state (the http.Server sets
// req.TLS only for a *tls.Conn it was given directly).
type tlsStateKey struct{}

// handedTLSContext is the ConnContext of the http.Server behind the HTTPS
// loop: it keeps the TLS state of a handed-off HTTP/1.1 connection.
func handedTLSContext(ctx context.Context, c net.Conn) context.Context {
	if hc, ok := c.(*handedConn); ok {
		if tc, ok := hc.Conn.(*tls.Conn); ok {
			st := tc.ConnectionState()
			return context.WithValue(ctx, tlsStateKey{}, &st)
		}
	}
	return ctx
}

// withTLSState gives the requests of handed-off TLS connections their
// req.TLS, so that they are known as HTTPS (X-Forwarded-Proto, redirects).
type withTLSState struct{ next http.Handler }

func (h withTLSState) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.TLS == nil {
		if st, ok := req.Context().Value(tlsStateKey{}).(*tls.ConnectionState); ok {
			req = req.WithContext(req.Context()) // a copy: the server's request stays as it was
			req.TLS = st
		}
	}
	h.next.ServeHTTP(w, req)
}
