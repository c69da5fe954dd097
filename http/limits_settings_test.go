package http_test

import (
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// The limits at the edge are app settings: set, shown as they apply (the
// burst defaults to the rate's number), kept in the data file, carried in
// the routing table, and removed with "none".
func TestAppLimitSettings(t *testing.T) {
	s := MustOpenServer(t)
	s.MustOK(t, "POST", "/apps", `{"app":"a.example.com"}`)
	settings := func(out map[string]any) map[string]any { return out["settings"].(map[string]any) }

	got := settings(s.MustOK(t, "GET", "/apps/a.example.com/settings", ""))
	if got["rate_limit"] != "none" || got["burst"] != 0.0 || got["max_body"] != "none" {
		t.Fatalf("limits of a new app = %v, want none", got)
	}
	got = settings(s.MustOK(t, "POST", "/apps/a.example.com/settings", `{"rate_limit":"10/s","max_body":"10m"}`))
	if got["rate_limit"] != "10/s" || got["burst"] != 10.0 || got["max_body"] != "10m" {
		t.Fatalf("after setting them = %v, want 10/s, burst 10 (the rate's), 10m", got)
	}
	got = settings(s.MustOK(t, "POST", "/apps/a.example.com/settings", `{"burst":20,"max_body":524288}`))
	if got["rate_limit"] != "10/s" || got["burst"] != 20.0 || got["max_body"] != "512k" {
		t.Fatalf("after the burst = %v, want 10/s, burst 20, 512k", got)
	}
	a, err := s.DB.App("a.example.com")
	if err != nil || a.RateLimit != (cluster.Rate{N: 10, Per: time.Second}) || a.Burst != 20 || a.MaxBody != 512<<10 {
		t.Fatalf("stored app = %+v, %v", a, err)
	}
	table, err := s.DB.RoutingTable()
	if want := (cluster.LimitRoute{Rate: cluster.Rate{N: 10, Per: time.Second}, Burst: 20, MaxBody: 512 << 10}); err != nil || table.Limits["a.example.com"] != want {
		t.Fatalf("table limits = %v, %v; want %+v", table.Limits, err, want)
	}
	// A form body works too; "none" removes the rate with its burst.
	status, out := s.DoWith(t, "POST", "/apps/a.example.com/settings", "rate_limit=600/m",
		map[string]string{"X-Auth": testToken, "Content-Type": "application/x-www-form-urlencoded"})
	if status != 200 || settings(out)["rate_limit"] != "600/m" || settings(out)["burst"] != 20.0 {
		t.Fatalf("form: %d %v", status, out)
	}
	got = settings(s.MustOK(t, "POST", "/apps/a.example.com/settings", `{"rate_limit":"none"}`))
	if got["rate_limit"] != "none" || got["burst"] != 0.0 || got["max_body"] != "512k" {
		t.Fatalf("after none = %v", got)
	}
	if a, _ := s.DB.App("a.example.com"); !a.RateLimit.IsZero() || a.Burst != 0 {
		t.Fatalf("stored after none: %+v", a)
	}
	s.MustOK(t, "POST", "/apps/a.example.com/settings", `{"max_body":"none"}`)
	if table, _ := s.DB.RoutingTable(); table.Limits != nil {
		t.Fatalf("table limits after both were removed: %v", table.Limits)
	}
}

// Bad limits are refused with 400 naming the field and the accepted forms,
// changing nothing.
func TestAppLimitSettingsBadInput(t *testing.T) {
	s := MustOpenServer(t)
	s.MustOK(t, "POST", "/apps", `{"app":"a.example.com"}`)
	s.MustOK(t, "POST", "/apps", `{"app":"b.example.com"}`)
	s.MustOK(t, "POST", "/apps/a.example.com/settings", `{"rate_limit":"5/s","burst":7,"max_body":"1m"}`)
	forms := `"10/s", "600/m" or "100/h", or "none"`
	for _, tc := range []struct{ body, want string }{
		{`{"rate_limit":"10/x"}`, `Field "rate_limit" must be requests per second, minute or hour such as ` + forms},
		{`{"rate_limit":"10"}`, `Field "rate_limit" must be`},
		{`{"rate_limit":10}`, `Field "rate_limit" must be a string of`},
		{`{"rate_limit":"0/s"}`, `Field "rate_limit" must allow from 1 to 1000000 requests`},
		{`{"burst":0}`, `Field "burst" must be from 1 to 1000000`},
		{`{"burst":-3}`, `Field "burst" must be from 1`},
		{`{"burst":"many"}`, `Field "burst"`},
		{`{"rate_limit":"none","burst":5}`, `Field "burst" applies to a rate limit, and a.example.com has none`},
		{`{"max_body":"ten"}`, `Field "max_body" must be a size such as "10m" or "512k"`},
		{`{"max_body":-1}`, `Field "max_body" must be a size`},
		{`{"max_body":true}`, `Field "max_body" must be a size`},
		// One bad field changes nothing, not even the good ones.
		{`{"rate_limit":"1/s","max_body":"lots"}`, `Field "max_body"`},
		{`{"max_body":"2m","burst":0}`, `Field "burst"`},
	} {
		s.MustFail(t, "POST", "/apps/a.example.com/settings", tc.body, 400, tc.want)
	}
	s.MustFail(t, "POST", "/apps/b.example.com/settings", `{"burst":5}`, 400, `"burst" applies to a rate limit, and b.example.com has none: give "rate_limit" with it`)
	status, out := s.DoWith(t, "POST", "/apps/a.example.com/settings", "rate_limit=fast",
		map[string]string{"X-Auth": testToken, "Content-Type": "application/x-www-form-urlencoded"})
	if msg, _ := out["error"].(string); status != 400 || msg == "" {
		t.Fatalf("form with a bad rate: %d %v", status, out)
	}
	if a, _ := s.DB.App("a.example.com"); a.RateLimit != (cluster.Rate{N: 5, Per: time.Second}) || a.Burst != 7 || a.MaxBody != 1<<20 {
		t.Fatalf("limits after bad input: %+v", a)
	}
}
