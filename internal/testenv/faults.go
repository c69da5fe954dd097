package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// EnvFaultHost names a loopback address where the test dockerd also
// listens, kept for fault tests so that cutting it off disturbs no other
// test package running at the same time.
const EnvFaultHost = "LONGSHOREMAN_TEST_FAULT_HOST"

// FaultHost returns the address reserved for fault tests, once no other
// test holds it: the test holds it until it ends. Tests of several packages
// run at once (each its own process), so the hold is an flock on a file
// named after the address.
func FaultHost(tb testing.TB) string {
	tb.Helper()
	host := need(tb, EnvFaultHost, "a spare loopback host address for fault tests")
	path := filepath.Join(os.TempDir(), "longshoreman-test-fault-"+host+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		tb.Fatalf("the fault host's lock %s: %v", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		tb.Fatalf("locking the fault host (%s): %v", path, err)
	}
	tb.Cleanup(func() { f.Close() }) // closing releases the lock
	return host
}

// DropHost makes host stop answering, as a lost machine does: an iptables
// rule drops every packet sent to it. The returned function (also run when
// the test ends) takes the rule away again.
func DropHost(tb testing.TB, host string) (restore func()) {
	tb.Helper()
	rule := []string{"INPUT", "-d", host, "-m", "comment", "--comment", "longshoreman-test", "-j", "DROP"}
	if out, err := exec.Command("iptables", append([]string{"-I"}, rule...)...).CombinedOutput(); err != nil {
		tb.Fatalf("iptables -I %s: %v: %s", strings.Join(rule, " "), err, out)
	}
	done := false
	restore = func() {
		if done {
			return
		}
		done = true
		if out, err := exec.Command("iptables", append([]string{"-D"}, rule...)...).CombinedOutput(); err != nil {
			tb.Errorf("iptables -D %s: %v: %s", strings.Join(rule, " "), err, out)
		}
	}
	tb.Cleanup(restore)
	return restore
}
