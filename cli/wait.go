package cli

import (
	"fmt"
	"net/url"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// waitFlags are the flags of the changes that can wait their turn behind
// the app's running one (deploy, rollback, scale, envs:set, envs:rm).
var waitFlags = []Flag{
	{Name: "wait", Help: "when another change of the app is running, wait for it (in turn) instead of failing"},
	{Name: "wait-timeout", Value: "DURATION", Help: "give up waiting after this long (implies --wait)",
		Default: cluster.DefaultWaitTimeout.String()},
}

// waitOptions reads --wait and --wait-timeout as the API's wait and
// wait_timeout, checked before anything is sent.
func waitOptions(c *Call) (wait bool, timeout *cluster.Duration, err error) {
	wait = c.Bool("wait")
	if s := c.String("wait-timeout"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return false, nil, fmt.Errorf("--wait-timeout takes a duration such as 10m or 90s, not %q", s)
		}
		if err := cluster.ValidateWaitTimeout(d); err != nil {
			return false, nil, err
		}
		timeout, wait = new(cluster.Duration), true
		*timeout = cluster.Duration(d)
	}
	return wait, timeout, nil
}

// waitQuery is --wait and --wait-timeout as the query of a request
// without a body ("" when not waiting).
func waitQuery(wait bool, timeout *cluster.Duration) string {
	if !wait {
		return ""
	}
	q := url.Values{"wait": {"true"}}
	if timeout != nil {
		q.Set("wait_timeout", timeout.D().String())
	}
	return "?" + q.Encode()
}
