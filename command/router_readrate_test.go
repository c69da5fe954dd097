package command

import (
	"io"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/router"
)

// TestMinReadRateSetting: --min-read-rate and LONGSHOREMAN_MIN_READ_RATE
// reach the router (0 turns the minimum off), and a value out of range
// stops the start naming both.
func TestMinReadRateSetting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want int64 // router.Config.MinReadRate
		err  string
	}{
		{want: router.DefaultMinReadRate},
		{env: map[string]string{"LONGSHOREMAN_MIN_READ_RATE": "4096"}, want: 4096},
		{env: map[string]string{"LONGSHOREMAN_MIN_READ_RATE": "4096"}, args: []string{"--min-read-rate", "512"}, want: 512},
		{args: []string{"--min-read-rate", "0"}, want: -1},
		{args: []string{"--min-read-rate", "-5"}, err: "--min-read-rate (LONGSHOREMAN_MIN_READ_RATE) must be bytes per second, 0 or more"},
		{env: map[string]string{"LONGSHOREMAN_MIN_READ_RATE": "1k"}, err: `LONGSHOREMAN_MIN_READ_RATE="1k" is not a whole number`},
	} {
		env := map[string]string{"LONGSHOREMAN_ROUTES_KEY": "read-rate-test-routes-key"}
		for k, v := range tc.env {
			env[k] = v
		}
		c, err := LoadRouterConfig(tc.args, func(k string) string { return env[k] }, io.Discard)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v %v: err %v, want %q", tc.env, tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v %v: %v", tc.env, tc.args, err)
			continue
		}
		var run router.RunConfig
		if err := c.Limits.apply(&run); err != nil {
			t.Fatal(err)
		}
		if run.Router.MinReadRate != tc.want {
			t.Errorf("%v %v: router MinReadRate %d, want %d", tc.env, tc.args, run.Router.MinReadRate, tc.want)
		}
	}
}
