package cluster

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestAuditClip cuts long texts on a rune boundary, marked, and leaves
// short ones.
func TestAuditClip(t *testing.T) {
	long := strings.Repeat("é", MaxAuditText) // two bytes a rune
	e := AuditEntry{Operation: "POST /" + long, Source: "192.0.2.7", Outcome: long, Args: map[string]string{"k": long, "short": "v"}}
	e.Clip()
	for what, s := range map[string]string{"operation": e.Operation, "outcome": e.Outcome, "an argument": e.Args["k"]} {
		if len(s) > MaxAuditText || !utf8.ValidString(s) || !strings.HasSuffix(s, "…") {
			t.Errorf("%s clipped to %d bytes (valid UTF-8: %v): %q", what, len(s), utf8.ValidString(s), s)
		}
	}
	if e.Source != "192.0.2.7" || e.Args["short"] != "v" {
		t.Errorf("short texts changed: %+v", e)
	}
}

// TestAuditKeyOrder: keys sort as their times, and every key of an entry
// at or after t sorts at or above AuditKeyBefore(t).
func TestAuditKeyOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	keys := []string{AuditKey(t0, 9), AuditKey(t0.Add(time.Nanosecond), 1), AuditKey(t0.Add(time.Hour), 0), AuditKey(t0.Add(24*time.Hour), 1<<40)}
	for i := 1; i < len(keys); i++ {
		if keys[i-1] >= keys[i] {
			t.Errorf("key %s of an earlier entry sorts at or above %s", keys[i-1], keys[i])
		}
	}
	if b := AuditKeyBefore(t0); !(b <= keys[0] && AuditKeyBefore(t0.Add(time.Nanosecond)) > keys[0]) {
		t.Errorf("AuditKeyBefore(t0) = %s does not bound %s", b, keys[0])
	}
}
