// Command testreport reads `go test -json` events on stdin and writes what
// a person wants of them: each package's result as it ends, the whole
// output of every test that failed (and of a package that failed outside
// its tests), and at the end the slowest tests. scripts/test pipes the
// test run through it; the raw events are kept in a file beside.
//
// Usage: go test -json ... | go run ./internal/testreport [-slowest N]
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Time    time.Time
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

type result struct {
	pkg, test string
	elapsed   float64
}

func main() {
	slowest := flag.Int("slowest", 10, "how many of the slowest tests to list at the end")
	flag.Parse()
	failed, err := report(os.Stdin, os.Stdout, *slowest)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// report prints as events arrive and returns whether anything failed.
func report(r io.Reader, w io.Writer, slowest int) (bool, error) {
	output := map[string]*strings.Builder{} // package + test -> its output so far
	var done []result
	failed := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Not an event: a build error printed by go test itself.
			fmt.Fprintln(w, string(line))
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "build-output":
			fmt.Fprint(w, e.Output)
		case "output":
			b := output[key]
			if b == nil {
				b = &strings.Builder{}
				output[key] = b
			}
			b.WriteString(e.Output)
		case "pass", "skip":
			if e.Test != "" {
				if e.Action == "pass" && !strings.Contains(e.Test, "/") {
					done = append(done, result{e.Package, e.Test, e.Elapsed})
				}
			} else {
				fmt.Fprintf(w, "%-4s %s\t%.1fs\n", "ok", e.Package, e.Elapsed)
			}
			delete(output, key)
		case "fail":
			failed = true
			if b := output[key]; b != nil {
				fmt.Fprint(w, b.String())
			}
			delete(output, key)
			if e.Test == "" {
				// A panic or a timeout ends the package with tests that
				// never ended: their output says where.
				for k, b := range output {
					if strings.HasPrefix(k, e.Package+" ") {
						fmt.Fprint(w, b.String())
						delete(output, k)
					}
				}
				fmt.Fprintf(w, "FAIL %s\t%.1fs\n", e.Package, e.Elapsed)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return true, err
	}
	sort.Slice(done, func(i, j int) bool { return done[i].elapsed > done[j].elapsed })
	if len(done) > slowest {
		done = done[:slowest]
	}
	if len(done) > 0 {
		fmt.Fprintln(w, "\nThe slowest tests:")
		for _, d := range done {
			fmt.Fprintf(w, "  %7.1fs  %s %s\n", d.elapsed, strings.TrimPrefix(d.pkg, "github.com/longshoreman/longshoreman/"), d.test)
		}
	}
	return failed, nil
}
