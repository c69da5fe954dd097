package router

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/longshoreman/longshoreman/cluster"
)

// Canaries: the table's Canary entry of an app splits its requests between
// the current revision's instances (the app's routes) and a canary
// revision's. A client is assigned a side once, by weight, and told it in a
// cookie naming the canary's revision, which keeps it on that side for the
// canary's life; a cookie of another revision (an earlier canary) is
// ignored and the client assigned again.

// CanaryCookie is the cookie that keeps a client on its side of a canary.
// Its value is REVISION-c (the canary) or REVISION-s (the current one).
const CanaryCookie = "longshoreman_canary"

// canaryCookieAge is the cookie's Max-Age: longer than a canary lasts.
const canaryCookieAge = 7 * 24 * 3600

// spreadStep is coprime with 100: the assignments of 100 consecutive new
// clients visit every residue once, so exactly weight of them go to the
// canary, in a scattered order.
const spreadStep = 61

// canarySplit is one app's canary, prepared for lookups.
type canarySplit struct {
	revision int
	weight   int // percent of new clients sent to app
	app      *app
	// assigned counts the clients assigned a side so far; offset is where
	// the spread starts, drawn at random for each canary.
	assigned atomic.Uint64
	offset   uint64
	canary   string // the cookie's value for the canary's side
	current  string // and for the current revision's
}

// addCanaries prepares t's canaries into s, reusing prev's backends and
// the assignment counters of the same revision.
func (s *snapshot) addCanaries(t cluster.RoutingTable, prev *snapshot, known map[string]*backend) {
	for name, c := range t.Canary {
		key := canonicalHost(name)
		var old *canarySplit
		if prev != nil {
			old = prev.canary[key]
		}
		var oldApp *app
		if old != nil {
			oldApp = old.app
		}
		weight := min(max(c.Weight, 0), 100)
		cs := &canarySplit{revision: c.Revision, weight: weight, app: newApp(key, c.Routes, known, oldApp), offset: rand.Uint64N(100)}
		if old != nil && old.revision == c.Revision {
			cs.assigned.Store(old.assigned.Load())
			cs.offset = old.offset
		}
		rev := strconv.Itoa(c.Revision)
		cs.canary, cs.current = rev+"-c", rev+"-s"
		if s.canary == nil {
			s.canary = map[string]*canarySplit{}
		}
		s.canary[key] = cs
	}
}

// pickCanary reports whether the n-th client assigned (counting from 0)
// goes to the canary: weight of every 100 consecutive ones do.
func (c *canarySplit) pickCanary(n uint64) bool {
	return int((n*spreadStep+c.offset)%100) < c.weight
}

// side returns which side of c the request is on: its cookie's, else a new
// assignment, which it tells the client in a cookie set on w.
func (c *canarySplit) side(w http.ResponseWriter, req *http.Request) (canary bool) {
	for _, line := range req.Header["Cookie"] {
		if !strings.Contains(line, CanaryCookie) {
			continue
		}
		for _, ck := range parseCookies(line) {
			switch ck.Value {
			case c.canary:
				return true
			case c.current:
				return false
			}
		}
	}
	canary = c.pickCanary(c.assigned.Add(1) - 1)
	v := c.current
	if canary {
		v = c.canary
	}
	w.Header().Add("Set-Cookie", (&http.Cookie{Name: CanaryCookie, Value: v, Path: "/", MaxAge: canaryCookieAge, HttpOnly: true, SameSite: http.SameSiteLaxMode}).String())
	return canary
}

// parseCookies returns the cookies named CanaryCookie of one Cookie line.
func parseCookies(line string) []*http.Cookie {
	cs, err := http.ParseCookie(line)
	if err != nil {
		return nil
	}
	out := cs[:0]
	for _, ck := range cs {
		if ck.Name == CanaryCookie {
			out = append(out, ck)
		}
	}
	return out
}

// canaryKey is the context key of the instances a request's side of a
// canary chose, for the balancer (the proxy path).
type canaryKey struct{}

// splitCanary returns the instances that serve req when its app name has a
// canary: the canary's when the request is on its side, else a (the current
// revision's). While one side has no routed instance, every request goes
// to the other and no client is assigned a side, so a canary being aborted
// or promoted fails no request. req carries the choice for the balancer.
func splitCanary(w http.ResponseWriter, req *http.Request, s *snapshot, name string, a *app) (*app, *http.Request) {
	c := s.canary[name]
	if c == nil || len(c.app.backends) == 0 {
		return a, req
	}
	if a != nil && len(a.backends) > 0 && !c.side(w, req) {
		return a, req
	}
	return c.app, req.WithContext(context.WithValue(req.Context(), canaryKey{}, c.app))
}

// chosenApp returns the instances splitCanary chose for req, if any.
func chosenApp(req *http.Request) *app {
	a, _ := req.Context().Value(canaryKey{}).(*app)
	return a
}
