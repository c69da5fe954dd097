package testenv

import (
	"os/exec"
	"strings"
	"testing"
)

// EnvFaultHost names a loopback address where the test dockerd also
// listens, kept for fault tests so that cutting it off disturbs no other
// test package running at the same time.
const EnvFaultHost = "LONGSHOREMAN_TEST_FAULT_HOST"

// FaultHost returns the address reserved for fault tests.
func FaultHost(tb testing.TB) string {
	tb.Helper()
	return need(tb, EnvFaultHost, "a spare loopback host address for fault tests")
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
