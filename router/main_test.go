package router_test

import (
	"os"
	"testing"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// The limits tests wait on slow clients, slow instances and timeouts: they
// run as many at once as scripts/test runs them.
func TestMain(m *testing.M) { os.Exit(testenv.MainWaiting(m)) }
