package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// Limits at the edge: the apps' own limits, carried in the routing table
// (cluster.LimitRoute): a rate per client address, answered 429 with
// Retry-After beyond it, and a largest request body, answered 413. An app
// without limits costs one check of an empty map.

// appLimits are one app's limits in a snapshot.
type appLimits struct {
	route   cluster.LimitRoute
	clients *clientLimiter // nil without a rate limit
	counts  *limitCounts   // kept across tables while the app stays limited
}

// limitCounts count the requests an app's limits refused, for the metrics.
type limitCounts struct {
	tooMany  atomic.Uint64 // 429
	tooLarge atomic.Uint64 // 413
}

// newLimits prepares the table's limits, keeping prev's counts, and its
// clients' buckets where the app's rate and burst did not change.
func (r *Router) newLimits(routes map[string]cluster.LimitRoute, prev *snapshot) map[string]*appLimits {
	if len(routes) == 0 {
		return nil
	}
	out := make(map[string]*appLimits, len(routes))
	for name, lr := range routes {
		key := canonicalHost(name)
		var old *appLimits
		if prev != nil {
			old = prev.limits[key]
		}
		l := &appLimits{route: lr, counts: &limitCounts{}}
		if old != nil {
			l.counts = old.counts
		}
		if !lr.Rate.IsZero() {
			if old != nil && old.clients != nil && old.route.Rate == lr.Rate && old.route.Burst == lr.Burst {
				l.clients = old.clients
			} else {
				l.clients = newClientLimiter(lr.Rate.Interval(), max(lr.Burst, 1), r.maxLimitClients)
			}
		}
		out[key] = l
	}
	return out
}

// monotonicStart is where monotonicNow counts from.
var monotonicStart = time.Now()

// monotonicNow is the time in nanoseconds on the monotonic clock, for the
// rate limits: a step of the wall clock neither empties nor fills a bucket.
func monotonicNow() int64 { return int64(time.Since(monotonicStart)) }

// admit applies l, the limits of the app name, to req: it answers a client
// over the app's rate with 429 and a body declared larger than the app
// allows with 413, returning nil; else it returns req, its body of unknown
// length (chunked) cut at the limit.
func (r *Router) admit(w http.ResponseWriter, req *http.Request, l *appLimits, name string) *http.Request {
	if l.clients != nil {
		if a, ok := r.clientAddr(req.RemoteAddr, req.Header["X-Forwarded-For"]); ok {
			if ok, wait := l.clients.allow(limitKey(a), monotonicNow()); !ok {
				l.counts.tooMany.Add(1)
				secs := max(int((wait+time.Second-1)/time.Second), 1)
				w.Header().Set("Retry-After", strconv.Itoa(secs))
				plain(w, http.StatusTooManyRequests, fmt.Sprintf("Too many requests to %s from %s: the app allows %s per client address, %d at once; try again in %d s.",
					name, a, l.route.Rate, l.route.Burst, secs))
				return nil
			}
		}
	}
	limit := int64(l.route.MaxBody)
	if limit <= 0 || req.Body == nil || req.Body == http.NoBody {
		return req
	}
	if req.ContentLength > limit {
		l.counts.tooLarge.Add(1)
		bodyTooLarge(w, req.ProtoMajor == 1, name, l.route.MaxBody)
		return nil
	}
	if req.ContentLength < 0 {
		cb := &capBody{rc: req.Body, left: limit, counts: l.counts}
		req.Body = cb
		// The proxy's error handler gets a copy of req: the context
		// carries cb there.
		req = req.WithContext(context.WithValue(req.Context(), capBodyKey{}, &capped{cb, name, l.route.MaxBody, req.ProtoMajor == 1}))
	}
	return req
}

// bodyTooLarge answers 413 for the app name, whose bodies are at most
// limit, closing the connection when it is HTTP/1 (h1): the rest of the
// body is not worth reading.
func bodyTooLarge(w http.ResponseWriter, h1 bool, name string, limit cluster.Bytes) {
	if h1 {
		w.Header().Set("Connection", "close")
	}
	plain(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("The request body is larger than %s allows (%s); send a smaller one.", name, limit))
}

// errBodyTooLarge ends a body read past its app's limit: the request to
// the instance is aborted, so it never sees the body complete.
var errBodyTooLarge = errors.New("request body larger than the app allows")

// capBody is a request body of unknown length that fails once it passes
// its limit, counting the request as refused then.
type capBody struct {
	rc     io.ReadCloser
	left   int64 // bytes still allowed
	counts *limitCounts
	over   atomic.Bool // read by the proxy's error handler
}

func (b *capBody) Read(p []byte) (int, error) {
	if b.over.Load() {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		b.over.Store(true)
		b.counts.tooLarge.Add(1)
		return int(b.left), errBodyTooLarge
	}
	b.left -= int64(n)
	return n, err
}

func (b *capBody) Close() error { return b.rc.Close() }

// capBodyKey is the context key of a request's capped body.
type capBodyKey struct{}

type capped struct {
	body  *capBody
	name  string
	limit cluster.Bytes
	h1    bool // the client's request is HTTP/1 (the proxy's copy always is)
}

// answerTooLarge answers 413 when req's body was cut at its app's limit,
// and reports whether it did.
func answerTooLarge(w http.ResponseWriter, req *http.Request) bool {
	c, ok := req.Context().Value(capBodyKey{}).(*capped)
	if !ok || !c.body.over.Load() {
		return false
	}
	bodyTooLarge(w, c.h1, c.name, c.limit)
	return true
}
