package testenv

import (
	"strings"
	"testing"
)

// EnvEtcd lists the client endpoints (host:port, comma-separated) of the
// three-member etcd cluster scripts/test starts on loopback.
const EnvEtcd = "LONGSHOREMAN_TEST_ETCD"

// Etcd returns the endpoints of the test etcd cluster.
func Etcd(tb testing.TB) []string {
	tb.Helper()
	return strings.Split(need(tb, EnvEtcd, "a running etcd cluster"), ",")
}
