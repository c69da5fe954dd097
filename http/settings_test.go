package http_test

import (
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// App settings are changed one field at a time, shown as they apply (the
// controller's where the app sets none), kept in the data file, and reset
// to the controller's with "default"; a deploy leaves them alone.
func TestAppSettings(t *testing.T) {
	s := MustOpenServer(t)
	s.MustOK(t, "POST", "/apps", `{"app":"a.example.com"}`)
	settings := func(out map[string]any) map[string]any { return out["settings"].(map[string]any) }

	got := settings(s.MustOK(t, "GET", "/apps/a.example.com/settings", ""))
	if got["batch"] != 0.0 || got["stop_timeout"] != "10s" || got["drain"] != cluster.DefaultDrain.String() ||
		got["stop_timeout_default"] != true || got["drain_default"] != true {
		t.Fatalf("settings of a new app = %v, want batch 0 and the controller's 10s and %s", got, cluster.DefaultDrain)
	}
	got = settings(s.MustOK(t, "POST", "/apps/a.example.com/settings", `{"batch":2,"stop_timeout":"30s","drain":5}`))
	if got["batch"] != 2.0 || got["stop_timeout"] != "30s" || got["drain"] != "5s" || got["stop_timeout_default"] != false || got["drain_default"] != false {
		t.Fatalf("settings after the change = %v", got)
	}
	a, err := s.DB.App("a.example.com")
	if err != nil || a.Batch != 2 || a.StopTimeout == nil || a.StopTimeout.D() != 30*time.Second || a.Drain == nil || a.Drain.D() != 5*time.Second {
		t.Fatalf("stored app = %+v, %v", a, err)
	}
	// A field left out keeps its value; the short path works; GET
	// /apps/:app shows them too.
	s.MustOK(t, "POST", "/a.example.com/settings", `{"drain":"0s"}`)
	got = settings(s.MustOK(t, "GET", "/apps/a.example.com", ""))
	if got["batch"] != 2.0 || got["stop_timeout"] != "30s" || got["drain"] != "0s" || got["drain_default"] != false {
		t.Fatalf("GET /apps/:app settings = %v, want batch 2, 30s, no drain", got)
	}
	// "default" gives the controller's value back; form bodies work too.
	status, out := s.DoWith(t, "POST", "/apps/a.example.com/settings", "stop_timeout=default&batch=0",
		map[string]string{"X-Auth": testToken, "Content-Type": "application/x-www-form-urlencoded"})
	if status != 200 || settings(out)["stop_timeout"] != "10s" || settings(out)["stop_timeout_default"] != true || settings(out)["batch"] != 0.0 {
		t.Fatalf("form reset = %d %v", status, out)
	}
	if a, _ := s.DB.App("a.example.com"); a.StopTimeout != nil || a.Drain == nil || a.Drain.D() != 0 {
		t.Fatalf("stored after the reset: stop timeout %v drain %v, want nil and 0", a.StopTimeout, a.Drain)
	}
}

func TestAppSettingsBadInput(t *testing.T) {
	s := MustOpenServer(t)
	s.MustOK(t, "POST", "/apps", `{"app":"a.example.com"}`)
	s.MustOK(t, "POST", "/apps/a.example.com/settings", `{"batch":3,"drain":"7s"}`)
	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{`{"batch":-1}`, 400, "Batch -1 is out of range"},
		{`{"batch":100000}`, 400, "Batch 100000 is out of range"},
		{`{"batch":"two"}`, 400, `Field "batch" must be a whole number`},
		{`{"stop_timeout":"2h"}`, 400, "Stop timeout 2h0m0s is out of range"},
		{`{"stop_timeout":"-1s"}`, 400, "out of range"},
		{`{"stop_timeout":"1500ms"}`, 400, "not a whole number of seconds: Docker counts it in seconds; give 1s or 2s"},
		{`{"stop_timeout":"soon"}`, 400, `Field "stop_timeout"`},
		{`{"drain":"61m"}`, 400, "Drain 1h1m0s is out of range"},
		{`{"drain":true}`, 400, `Field "drain"`},
		// One bad field changes nothing, not even the good ones.
		{`{"batch":1,"drain":"2h"}`, 400, "Drain 2h0m0s is out of range"},
	} {
		s.MustFail(t, "POST", "/apps/a.example.com/settings", tc.body, tc.status, tc.want)
	}
	s.MustFail(t, "POST", "/apps/nope.example.com/settings", `{"batch":1}`, 404, "does not exist")
	s.MustFail(t, "POST", "/apps/a.example.com/deploy", `{"image":"app:1","batch":-2}`, 400, "Batch -2 is out of range")
	if a, _ := s.DB.App("a.example.com"); a.Batch != 3 || a.Drain.D() != 7*time.Second || a.StopTimeout != nil {
		t.Fatalf("settings after bad input: batch %d drain %v stop timeout %v; want 3, 7s, unset", a.Batch, a.Drain, a.StopTimeout)
	}
}
