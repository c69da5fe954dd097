package scheduler_test

import (
	"os"
	"testing"

	"github.com/longshoreman/longshoreman/internal/testenv"
)

// The fake-cluster tests wait on deploys, health checks and job schedules:
// they run as many at once as scripts/test runs them.
func TestMain(m *testing.M) { os.Exit(testenv.MainWaiting(m)) }
