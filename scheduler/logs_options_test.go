package scheduler

import (
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

func TestJoinOptions(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		started time.Time
		want    cluster.LogOptions
	}{
		{"started after the stream", start.Add(time.Second), cluster.LogOptions{Tail: cluster.LogTailAll}},
		{"started with the stream", start, cluster.LogOptions{Tail: cluster.LogTailAll, Since: start}},
		{"older, seen late", start.Add(-time.Hour), cluster.LogOptions{Tail: cluster.LogTailAll, Since: start}},
		{"no start recorded", time.Time{}, cluster.LogOptions{Tail: cluster.LogTailAll, Since: start}},
	}
	for _, tt := range tests {
		if got := joinOptions(cluster.Instance{Started: tt.started}, start); got != tt.want {
			t.Errorf("%s: joinOptions = %+v; want %+v", tt.name, got, tt.want)
		}
	}
}

func TestResumeOptions(t *testing.T) {
	began := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	last := began.Add(time.Minute)
	since := began.Add(-time.Hour)
	all := cluster.LogTailAll
	tests := []struct {
		name  string
		first cluster.LogOptions
		last  time.Time
		want  cluster.LogOptions
	}{
		{"after the last line sent", cluster.LogOptions{Tail: 20}, last, cluster.LogOptions{Tail: all, Since: last.Add(time.Nanosecond), Follow: true}},
		{"last line wins over since", cluster.LogOptions{Tail: all, Since: since}, last, cluster.LogOptions{Tail: all, Since: last.Add(time.Nanosecond), Follow: true}},
		{"nothing sent, since kept", cluster.LogOptions{Tail: 5, Since: since}, time.Time{}, cluster.LogOptions{Tail: all, Since: since, Follow: true}},
		{"nothing sent, a tail: from when it began", cluster.LogOptions{Tail: 20}, time.Time{}, cluster.LogOptions{Tail: all, Since: began, Follow: true}},
		{"nothing sent, tail 0: from when it began", cluster.LogOptions{Tail: 0}, time.Time{}, cluster.LogOptions{Tail: all, Since: began, Follow: true}},
		{"nothing sent, all asked: all again", cluster.LogOptions{Tail: all}, time.Time{}, cluster.LogOptions{Tail: all, Follow: true}},
	}
	for _, tt := range tests {
		if got := resumeOptions(tt.first, tt.last, began); got != tt.want {
			t.Errorf("%s: resumeOptions = %+v; want %+v", tt.name, got, tt.want)
		}
	}
}
