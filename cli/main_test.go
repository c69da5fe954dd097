package cli_test

import (
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// bin is the longshoreman binary built once for every test.
var bin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "longshoreman-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "longshoreman")
	build := exec.Command("go", "build", "-o", bin, "github.com/longshoreman/longshoreman")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const token = "t0ken-0123456789"

// controller is a `longshoreman serve` subprocess.
type controller struct {
	URL  string
	DB   string
	Logs *syncWriter // what it wrote to stderr: its log
}

// startController runs the built binary's serve on a free loopback port
// and stops it (SIGTERM) when the test ends. Redis points at a closed port
// unless the test environment has one: these tests are about the API.
func startController(tb testing.TB, env ...string) *controller {
	tb.Helper()
	dir := tb.TempDir()
	port := testenv.FreePort(tb)
	c := &controller{URL: fmt.Sprintf("http://127.0.0.1:%d", port), DB: filepath.Join(dir, "ls.db")}
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"LONGSHOREMAN_LISTEN=" + fmt.Sprintf("127.0.0.1:%d", port),
		"LONGSHOREMAN_DB=" + c.DB, "LONGSHOREMAN_TOKEN=" + token,
		"LONGSHOREMAN_DRAIN=200ms", "REDIS_PORT=1", "LONGSHOREMAN_INIT=1",
	}, env...)
	logs := &syncWriter{}
	c.Logs = logs
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tb.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if tb.Failed() {
			tb.Logf("controller log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(c.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			return c
		}
		select {
		case err := <-exited:
			exited <- err // for the cleanup's wait
			tb.Fatalf("controller exited at start: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("controller did not answer within 15s:\n%s", logs.String())
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// result is what one run of the CLI did.
type result struct {
	Stdout, Stderr string
	Code           int
}

// cli is a CLI user: a home directory and an environment.
type cli struct {
	tb    testing.TB
	Home  string
	Env   []string
	Stdin string
}

// newCLI returns a user whose LONGSHOREMAN_URL and token point at c (when
// c is not nil) and whose $HOME is an empty directory.
func newCLI(tb testing.TB, c *controller) *cli {
	u := &cli{tb: tb, Home: tb.TempDir()}
	if c != nil {
		u.Env = []string{"LONGSHOREMAN_URL=" + c.URL, "LONGSHOREMAN_TOKEN=" + token}
	}
	return u
}

// newUser returns a user of a controller started for the test alone.
func newUser(tb testing.TB) *cli {
	tb.Helper()
	return newCLI(tb, startController(tb))
}

// run runs the CLI with args and returns what it printed and its exit
// status.
func (u *cli) run(args ...string) result {
	u.tb.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + u.Home, "TZ=UTC"}, u.Env...)
	cmd.Stdin = strings.NewReader(u.Stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{Stdout: stdout.String(), Stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		u.tb.Fatalf("longshoreman %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// ok runs the CLI and fails the test unless it exits 0.
func (u *cli) ok(args ...string) string {
	u.tb.Helper()
	r := u.run(args...)
	if r.Code != 0 {
		u.tb.Fatalf("longshoreman %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// fails runs the CLI and checks that it exits 1 with an error containing
// every one of want, printed once as "longshoreman: ...".
func (u *cli) fails(args []string, want ...string) result {
	u.tb.Helper()
	r := u.run(args...)
	if r.Code != 1 {
		u.tb.Errorf("longshoreman %s: exit %d, want 1\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	if !strings.HasPrefix(r.Stderr, "longshoreman: ") {
		u.tb.Errorf("longshoreman %s: stderr %q does not start with \"longshoreman: \"", strings.Join(args, " "), r.Stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.Stderr, w) {
			u.tb.Errorf("longshoreman %s: stderr lacks %q:\n%s", strings.Join(args, " "), w, r.Stderr)
		}
	}
	return r
}

// none runs a listing of nothing and checks that it exits 0 with nothing
// on stdout and a note containing note on stderr.
func (u *cli) none(args []string, note string) {
	u.tb.Helper()
	if r := u.run(args...); r.Code != 0 || r.Stdout != "" || !strings.Contains(r.Stderr, note) {
		u.tb.Errorf("longshoreman %s: %+v; want exit 0, no output and %q", strings.Join(args, " "), r, note)
	}
}

var volatile = []struct {
	re   *regexp.Regexp
	with string
}{
	// Ports picked by Docker or by FreePort: keep the width so the
	// tabwriter's alignment survives.
	{regexp.MustCompile(`(127\.0\.0\.\d+):\d{5}\b`), "$1:PPPPP"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`), "YYYY-MM-DD hh:mm:ss"},
}

// normalize replaces ports and times with placeholders of the same width.
func normalize(s string) string {
	for _, v := range volatile {
		s = v.re.ReplaceAllString(s, v.with)
	}
	return s
}

// golden compares got (normalized) with testdata/NAME/stdout, or rewrites
// that file with -update.
func golden(tb testing.TB, name, got string) {
	tb.Helper()
	got = normalize(got)
	path := filepath.Join("testdata", filepath.FromSlash(name), "stdout")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run go test ./cli -update to write it)", err)
	}
	if got != string(want) {
		tb.Errorf("%s differs from %s:\n--- got\n%s--- want\n%s", name, path, got, want)
	}
}

// syncWriter serializes writes from the process's copier goroutine with
// reads at cleanup.
type syncWriter struct {
	mu sync.Mutex // guards w
	w  bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}
