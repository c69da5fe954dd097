package http_test

import (
	"strings"
	"testing"
)

// Maintenance is stored in the app, shown by GET /apps/:app, /describe and
// /overview, and put in the routing table; bad input is a 400 that changes
// nothing.
func TestMaintenance(t *testing.T) {
	s := MustOpenServer(t)
	s.MustOK(t, "POST", "/apps", `{"app":"m.example.com"}`)
	s.MustFail(t, "POST", "/apps/m.example.com/maintenance", `{"message":"x"}`, 400, `Field "enabled" is missing`)
	s.MustFail(t, "POST", "/apps/m.example.com/maintenance", `{"enabled":true,"message":"`+strings.Repeat("x", 1025)+`"}`, 400, "at most 1024")
	s.MustFail(t, "POST", "/apps/m.example.com/maintenance", `{"enabled":true,"message":"a\u0007b"}`, 400, "control character")
	s.MustFail(t, "POST", "/apps/nope.example.com/maintenance", `{"enabled":true}`, 404, "nope.example.com")
	if d := s.MustOK(t, "GET", "/apps/m.example.com", "")["description"].(map[string]any); d["maintenance"] != nil {
		t.Fatalf("maintenance after refused requests: %v", d["maintenance"])
	}

	out := s.MustOK(t, "POST", "/apps/m.example.com/maintenance", `{"enabled":true,"message":"  Back at 10:00 UTC.  "}`)
	m := out["maintenance"].(map[string]any)
	if m["enabled"] != true || m["message"] != "Back at 10:00 UTC." || m["since"] == nil {
		t.Fatalf("answer: %v", out)
	}
	d := s.MustOK(t, "GET", "/apps/m.example.com", "")["description"].(map[string]any)
	if dm, _ := d["maintenance"].(map[string]any); dm["message"] != "Back at 10:00 UTC." || dm["since"] != m["since"] {
		t.Fatalf("GET /apps/m.example.com: %v", d)
	}
	all := s.MustOK(t, "GET", "/describe", "")["description"].(map[string]any)
	if dm, _ := all["m.example.com"].(map[string]any)["maintenance"].(map[string]any); dm["enabled"] != true {
		t.Fatalf("GET /describe: %v", all)
	}
	apps := s.MustOK(t, "GET", "/overview", "")["apps"].([]any)
	if am, _ := apps[0].(map[string]any)["maintenance"].(map[string]any); am["enabled"] != true {
		t.Fatalf("GET /overview: %v", apps)
	}
	_, routes := s.Do(t, "GET", "/routes", "")
	if rm, _ := routes["maintenance"].(map[string]any); rm == nil || rm["m.example.com"].(map[string]any)["message"] != "Back at 10:00 UTC." {
		t.Fatalf("GET /routes: %v", routes)
	}
	// Turned on again with another message, it keeps when it began.
	again := s.MustOK(t, "POST", "/apps/m.example.com/maintenance", `{"enabled":true}`)["maintenance"].(map[string]any)
	if again["since"] != m["since"] || again["message"] != nil {
		t.Fatalf("on again: %v; want the same since and the default message", again)
	}

	s.MustOK(t, "POST", "/apps/m.example.com/maintenance", `{"enabled":false}`)
	if d := s.MustOK(t, "GET", "/apps/m.example.com", "")["description"].(map[string]any); d["maintenance"] != nil {
		t.Fatalf("after off: %v", d["maintenance"])
	}
	if _, routes := s.Do(t, "GET", "/routes", ""); routes["maintenance"] != nil {
		t.Fatalf("GET /routes after off: %v", routes)
	}
}

// A wait timeout out of range is refused before anything is done.
func TestWaitTimeoutRefused(t *testing.T) {
	s := MustOpenServer(t)
	s.MustFail(t, "POST", "/apps/w.example.com/deploy", `{"image":"img:1","wait":true,"wait_timeout":"0s"}`, 400, "Wait timeout 0s is out of range")
	s.MustFail(t, "POST", "/apps/w.example.com/deploy", `{"image":"img:1","wait_timeout":"7h"}`, 400, "out of range")
	if status, _ := s.Do(t, "GET", "/apps/w.example.com", ""); status != 404 {
		t.Fatalf("a refused deploy created the app: GET = %d", status)
	}
	s.MustOK(t, "POST", "/apps", `{"app":"w.example.com"}`)
	s.MustFail(t, "POST", "/apps/w.example.com/scale", `{"count":1,"wait_timeout":"abc"}`, 400, "wait_timeout")
	s.MustOK(t, "POST", "/apps/w.example.com/envs", `{"env":"K=v"}`)
	s.MustFail(t, "DELETE", "/apps/w.example.com/envs/K?wait=maybe", "", 400, `Parameter "wait"`)
}
