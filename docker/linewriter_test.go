package docker

import (
	"slices"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
)

// TestLineWriter splits a task's output into lines however the writes
// cut it, drops line ends, and cuts lines longer than maxTaskLine.
func TestLineWriter(t *testing.T) {
	long := strings.Repeat("x", maxTaskLine)
	tests := []struct {
		name   string
		writes []string
		want   []string
	}{
		{"one line", []string{"hello\n"}, []string{"hello"}},
		{"split across writes", []string{"hel", "lo\nwor", "ld\n"}, []string{"hello", "world"}},
		{"CRLF", []string{"a\r\nb\r\n"}, []string{"a", "b"}},
		{"empty lines kept", []string{"\n\nx\n"}, []string{"", "", "x"}},
		{"last line without newline flushed", []string{"done"}, []string{"done"}},
		{"a long line is cut", []string{long + "yz\n"}, []string{long, "yz"}},
		{"a long write without newline is cut", []string{long, "tail"}, []string{long, "tail"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			w := newLineWriter("stdout", func(l cluster.TaskLine) {
				if l.Stream != "stdout" {
					t.Errorf("stream %q", l.Stream)
				}
				got = append(got, l.Line)
			})
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			w.flush()
			if !slices.Equal(got, tt.want) {
				t.Errorf("lines %q, want %q", clipAll(got), clipAll(tt.want))
			}
		})
	}
}

func clipAll(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		if len(l) > 20 {
			l = l[:20] + "..."
		}
		out[i] = l
	}
	return out
}
