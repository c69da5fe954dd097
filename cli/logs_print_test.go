package cli

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestLogPrinterColour(t *testing.T) {
	var plain bytes.Buffer
	p := newLogPrinter(&plain, func(string) string { return "" })
	p.print("127.0.0.1:32768", "hello")
	if got := plain.String(); got != "127.0.0.1:32768 hello\n" {
		t.Errorf("to a buffer: %q; want no colour", got)
	}

	var coloured bytes.Buffer
	p = &logPrinter{w: &coloured, colour: true}
	for _, inst := range []string{"127.0.0.1:32768", "127.0.0.2:32768", "127.0.0.1:32768"} {
		p.print(inst, "x")
	}
	lines := strings.Split(strings.TrimSuffix(coloured.String(), "\n"), "\n")
	for i, inst := range []string{"127.0.0.1:32768", "127.0.0.2:32768", "127.0.0.1:32768"} {
		want := instanceColour(inst) + inst + "\x1b[0m x"
		if lines[i] != want {
			t.Errorf("line %d = %q; want %q", i, lines[i], want)
		}
	}
	if lines[0] != lines[2] {
		t.Errorf("one instance in two colours: %q, %q", lines[0], lines[2])
	}
	// Instances spread over the palette rather than sharing one colour.
	seen := map[string]bool{}
	for _, inst := range []string{"10.0.0.1:3000", "10.0.0.2:3000", "10.0.0.3:3000", "10.0.0.1:3001", "10.0.0.1:32770", "10.0.0.4:32771"} {
		seen[instanceColour(inst)] = true
	}
	if len(seen) < 3 {
		t.Errorf("six instances got %d colours; want them spread", len(seen))
	}
}

func TestIsTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(w) || isTerminal(&bytes.Buffer{}) {
		t.Error("a pipe or a buffer taken for a terminal")
	}
	tty, err := os.OpenFile("/dev/null", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	if !isTerminal(tty) {
		t.Error("a character device not taken for a terminal")
	}
	// NO_COLOR turns colour off even on a character device.
	if p := newLogPrinter(tty, func(k string) string {
		if k == "NO_COLOR" {
			return "1"
		}
		return ""
	}); p.colour {
		t.Error("colour on with NO_COLOR set")
	}
	if p := newLogPrinter(tty, func(string) string { return "" }); !p.colour {
		t.Error("colour off on a character device without NO_COLOR")
	}
}
