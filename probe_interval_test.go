package main

import (
	"io"
	"testing"
	"time"
)

// TestProbeIntervalSetting: the health-check interval defaults to 5s and is
// read from LONGSHOREMAN_PROBE_INTERVAL, then from --probe-interval.
func TestProbeIntervalSetting(t *testing.T) {
	tests := []struct {
		env  string
		args []string
		want time.Duration
	}{
		{"", nil, 5 * time.Second},
		{"750ms", nil, 750 * time.Millisecond},
		{"750ms", []string{"--probe-interval", "2s"}, 2 * time.Second},
	}
	for _, tt := range tests {
		c := &ServeCommand{Stderr: io.Discard, Getenv: func(k string) string {
			if k == "LONGSHOREMAN_PROBE_INTERVAL" {
				return tt.env
			}
			return ""
		}}
		if err := c.ParseFlags(tt.args); err != nil {
			t.Fatalf("env %q args %q: %v", tt.env, tt.args, err)
		}
		if c.Config.ProbeInterval != tt.want {
			t.Errorf("env %q args %q: probe interval %s, want %s", tt.env, tt.args, c.Config.ProbeInterval, tt.want)
		}
	}
	c := &ServeCommand{Stderr: io.Discard, Getenv: func(k string) string {
		if k == "LONGSHOREMAN_PROBE_INTERVAL" {
			return "often"
		}
		return ""
	}}
	if err := c.ParseFlags(nil); err == nil {
		t.Fatal("LONGSHOREMAN_PROBE_INTERVAL=often was accepted")
	}
}
