package integration

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryRefusesBadSettings runs the built binary with values that used
// to pass (a negative reconcile interval panicked in time.NewTicker): it
// exits 1 with one line per bad value, and creates no data file.
func TestBinaryRefusesBadSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		args  []string
		env   []string
		names []string
	}{
		{[]string{"serve", "--reconcile=-1s", "--init", "--db", "ls.db"}, nil, []string{"--reconcile (LONGSHOREMAN_RECONCILE) must be a duration above zero"}},
		{[]string{"serve", "--init"}, []string{"LONGSHOREMAN_REPUBLISH=0s", "REDIS_PORT=http", "LONGSHOREMAN_REBALANCE=yes"}, []string{"LONGSHOREMAN_REBALANCE"}},
		{[]string{"serve", "--init"}, []string{"LONGSHOREMAN_REPUBLISH=0s", "REDIS_PORT=http"}, []string{"--republish (LONGSHOREMAN_REPUBLISH)", "--redis (REDIS_HOST, REDIS_PORT)"}},
		{[]string{"router", "--max-conns=-1"}, []string{"LONGSHOREMAN_ROUTES_KEY=routes-key-0123456789"}, []string{"--max-conns (LONGSHOREMAN_MAX_CONNS)"}},
		{[]string{"token", "--db="}, nil, []string{"--db (LONGSHOREMAN_DB) is empty"}},
	} {
		cmd := exec.Command(Binary(t), tc.args...)
		cmd.Dir = dir
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, tc.env...)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || strings.Contains(string(out), "panic") {
			t.Errorf("%v %v: %v, want exit status 1\n%s", tc.env, tc.args, err, out)
		}
		for _, n := range tc.names {
			if !strings.Contains(string(out), n) {
				t.Errorf("%v %v: output does not name %q:\n%s", tc.env, tc.args, n, out)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused starts left files: %v", entries)
	}
}
