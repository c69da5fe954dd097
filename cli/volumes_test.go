package cli_test

import (
	"strings"
	"testing"
)

// TestVolumeFlagsCheckedFirst: a bad --volume, --host or --hold is refused
// before anything is sent, and volumes:rm removes nothing unless NAME is
// typed again.
func TestVolumeFlagsCheckedFirst(t *testing.T) {
	t.Parallel()
	u := newCLI(t, nil)
	deploy := []string{"--app", "a.example.com", "deploy", "img:1"}
	u.fails(append(deploy, "--volume", "data"), "has no ':'")
	u.fails(append(deploy, "--volume", "data:/a", "--volume", "data:/b"), "repeats")
	u.fails(append(deploy, "--host", "db.example.com"), "not an IP address")
	u.fails(append(deploy, "--hold", "soon"), "--hold")
	u.fails(append(deploy, "--hold", "1h"), "out of range")
	u.fails([]string{"--app", "a.example.com", "volumes:rm", "Data"}, "volume's NAME")

	u.Stdin = "other\n"
	r := u.run("--app", "a.example.com", "volumes:rm", "data")
	if r.Code != 1 || !strings.Contains(r.Stderr, "Type the volume name (data) to confirm") || !strings.Contains(r.Stderr, "not confirmed: nothing was removed") {
		t.Fatalf("volumes:rm answered %q with exit %d: want the question, then a refusal", r.Stderr, r.Code)
	}
}
