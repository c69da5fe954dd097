package cluster

import (
	"strings"
	"testing"
	"time"
)

func TestParseLogTail(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"0", 0, true}, {"1", 1, true}, {"100", 100, true}, {" 20 ", 20, true},
		{"10000", 10000, true}, {"10001", 0, false}, {"-1", 0, false}, {"", 0, false},
		{"all", 0, false}, {"1.5", 0, false}, {"1e3", 0, false}, {"99999999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseLogTail(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("ParseLogTail(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && (ErrorCode(err) != EINVALID || !strings.Contains(ErrorMessage(err), "tail=")) {
			t.Errorf("ParseLogTail(%q) error %v: want EINVALID naming tail", tt.in, err)
		}
	}
}

func TestParseLogSince(t *testing.T) {
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"10m", now.Add(-10 * time.Minute), true},
		{"1h30m", now.Add(-90 * time.Minute), true},
		{"0s", now, true},
		{"2026-03-04T11:00:00Z", now.Add(-time.Hour), true},
		{"2026-03-04T13:00:00+02:00", now.Add(-time.Hour), true},
		{"2026-03-04T11:00:00.5Z", now.Add(-time.Hour + 500*time.Millisecond), true},
		{"-5m", time.Time{}, false},
		{"10", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"2026-03-04 11:00:00", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := ParseLogSince(tt.in, now)
		if tt.ok != (err == nil) || !got.Equal(tt.want) {
			t.Errorf("ParseLogSince(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && (ErrorCode(err) != EINVALID || !strings.Contains(ErrorMessage(err), "since=")) {
			t.Errorf("ParseLogSince(%q) error %v: want EINVALID naming since", tt.in, err)
		}
	}
}
