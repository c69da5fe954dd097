package router_test

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/router"
)

// canaryTable routes app to cur, with weight percent of its clients sent
// to canary (revision 7).
func canaryTable(version uint64, cur, canary []string, weight int) cluster.RoutingTable {
	return cluster.RoutingTable{Version: version, Controller: "c", Format: cluster.TableFormatCanary,
		Routes: map[string][]string{"app.example.com": cur},
		Canary: map[string]cluster.CanaryRoute{"app.example.com": {Revision: 7, Weight: weight, Routes: canary}}}
}

// Over both ways of proxying (the fast path for GET, the reverse proxy for
// POST): clients without the cookie go to the canary by its weight, each
// is given the cookie of its side, and a client sending it back stays on
// its side; the instance's own cookies reach the client beside it.
func TestCanarySplitsByWeightAndCookie(t *testing.T) {
	cur, hitsCur := backend(t, "current")
	canary, hitsCanary := backend(t, "canary")
	r, url := proxy(t, nil)
	r.Apply(canaryTable(1, []string{cur}, []string{canary}, 20))

	for _, method := range []string{"GET", "POST"} {
		hitsCur.Store(0)
		hitsCanary.Store(0)
		sides := map[string]string{} // cookie value -> backend seen
		for i := 0; i < 500; i++ {
			req, _ := http.NewRequest(method, url+"/x", strings.NewReader("body"))
			req.Host = "app.example.com"
			resp, err := testClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			for _, ck := range resp.Cookies() {
				if ck.Name == router.CanaryCookie {
					got = ck.Value
				}
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || (got != "7-c" && got != "7-s") {
				t.Fatalf("%s %d: status %d, cookie %q", method, i, resp.StatusCode, got)
			}
			sides[got] = ""
		}
		if n := hitsCanary.Load(); n != 100 || hitsCur.Load() != 400 {
			t.Fatalf("%s: %d of 500 reached the canary, %d the current revision; want 100 and 400", method, n, hitsCur.Load())
		}
		if len(sides) != 2 {
			t.Fatalf("%s: cookies %v", method, sides)
		}
	}

	// A client with a cookie jar stays on its side for 50 requests and
	// gets no new cookie; one with a cookie of an earlier canary is
	// assigned again.
	for _, side := range []string{"7-c", "7-s"} {
		want := "current"
		if side == "7-c" {
			want = "canary"
		}
		for i := 0; i < 50; i++ {
			method := []string{"GET", "POST"}[i%2]
			a := do(t, method, url, "app.example.com", "", http.Header{"Cookie": {"other=1; " + router.CanaryCookie + "=" + side}})
			if a.status != 200 || a.seen.Backend != want {
				t.Fatalf("cookie %s, %s %d: %d from %q, want %s", side, method, i, a.status, a.seen.Backend, want)
			}
		}
	}
	// Ten clients with cookie jars: each stays where its first answer
	// put it, and is given the cookie once.
	for c := 0; c < 10; c++ {
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar, Timeout: testClient.Timeout}
		first := ""
		for i := 0; i < 20; i++ {
			req, _ := http.NewRequest([]string{"GET", "POST"}[i%2], url+"/", nil)
			req.Host = "app.example.com"
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var s struct{ Backend string }
			err = json.NewDecoder(resp.Body).Decode(&s)
			resp.Body.Close()
			if err != nil || (i > 0 && len(resp.Cookies()) > 0) || (i == 0 && len(resp.Cookies()) != 1) {
				t.Fatalf("client %d, request %d: cookies %v (%v)", c, i, resp.Cookies(), err)
			}
			if first == "" {
				first = s.Backend
			}
			if s.Backend != first {
				t.Fatalf("client %d, request %d: answered by %s, first by %s", c, i, s.Backend, first)
			}
		}
	}
}

// A side without a routed instance gives way to the other, so aborting
// (the canary's instances leave) and promoting (the current ones leave)
// fail no request, whatever cookie a client holds.
func TestCanaryEmptySideGivesWay(t *testing.T) {
	cur, _ := backend(t, "current")
	canary, _ := backend(t, "canary")
	r, url := proxy(t, nil)
	for _, tc := range []struct {
		cur, canary []string
		want        string
	}{
		{[]string{cur}, []string{}, "current"},
		{[]string{}, []string{canary}, "canary"},
		{nil, []string{canary}, "canary"},
	} {
		tbl := canaryTable(1, tc.cur, tc.canary, 50)
		if tc.cur == nil {
			delete(tbl.Routes, "app.example.com")
		}
		r.Apply(tbl)
		for _, side := range []string{"7-c", "7-s", ""} {
			for _, method := range []string{"GET", "POST"} {
				h := http.Header{}
				if side != "" {
					h.Set("Cookie", router.CanaryCookie+"="+side)
				}
				if a := do(t, method, url, "app.example.com", "", h); a.status != 200 || a.seen.Backend != tc.want {
					t.Fatalf("current %v, canary %v, cookie %q, %s: %d from %q", tc.cur, tc.canary, side, method, a.status, a.seen.Backend)
				}
			}
		}
	}
}
