package scheduler_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/scheduler"
)

// fillEnvs gives app n envs K0..K(n-1), each with value, straight in the
// data file.
func fillEnvs(tb testing.TB, c *FakeCluster, app string, n int, value string) {
	tb.Helper()
	if _, err := c.DB.UpdateApp(app, func(a *cluster.App) error {
		a.Envs = map[string]string{}
		for i := range n {
			a.Envs[fmt.Sprintf("K%d", i)] = value
		}
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
}

// setConcurrently sends one SetEnv per key of keys at once and returns
// how many were applied and how many refused at an env limit; any other
// answer fails the test.
func setConcurrently(tb testing.TB, c *FakeCluster, app string, keys []string, value string) (applied, refused int) {
	tb.Helper()
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Go(func() { _, errs[i] = c.SetEnv(context.Background(), app, k, value, nil) })
	}
	wg.Wait()
	for i, err := range errs {
		switch {
		case err == nil:
			applied++
		case cluster.ErrorCode(err) == cluster.EINVALID && strings.Contains(cluster.ErrorMessage(err), "the limit is"):
			refused++
		default:
			tb.Fatalf("SetEnv %s: %v; want it applied or refused at a limit", keys[i], err)
		}
	}
	return applied, refused
}

// Env changes checked against envs that have grown since (the API checks
// a change against the app as its request found it; the scheduler then
// queues it or takes the app's lock) are checked again under the lock:
// of concurrent sets that together pass a limit, exactly those over it
// are refused with EINVALID, in every wave, and neither the app nor any
// revision ever holds more than the limit. Without instances (each change
// stored at once) and with them (changes merged into revisions).
func TestFakeEnvLimitsCheckedUnderTheLock(t *testing.T) {
	t.Parallel()
	c := MustOpenFakeCluster(t, scheduler.Config{})
	for _, deployed := range []bool{false, true} {
		app := c.App(t, fmt.Sprintf("limits-%t.example.com", deployed))
		if deployed {
			c.MustDeploy(t, app, goodImage, 1)
		}
		const room = 3
		fillEnvs(t, c, app, cluster.MaxEnvs-room, "v")
		applied, refused := 0, 0
		for wave := range 3 {
			var keys []string
			for i := range 8 {
				keys = append(keys, fmt.Sprintf("NEW%d_%d", wave, i))
			}
			a, r := setConcurrently(t, c, app, keys, "v")
			applied, refused = applied+a, refused+r
		}
		if applied != room || refused != 24-room {
			t.Errorf("deployed %t: %d applied and %d refused; want %d and %d", deployed, applied, refused, room, 24-room)
		}
		a, err := c.DB.App(app)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Envs) != cluster.MaxEnvs {
			t.Errorf("deployed %t: the app holds %d envs; want %d", deployed, len(a.Envs), cluster.MaxEnvs)
		}
		revs, _ := c.DB.Revisions(app)
		for _, rev := range revs {
			if len(rev.Envs) > cluster.MaxEnvs {
				t.Errorf("deployed %t: revision %d holds %d envs, over the limit of %d", deployed, rev.Number, len(rev.Envs), cluster.MaxEnvs)
			}
		}
		// At the limit: replacing a value and removing an env still work.
		if _, err := c.SetEnv(context.Background(), app, "K0", "w", nil); err != nil {
			t.Errorf("deployed %t: replacing a value at the limit: %v", deployed, err)
		}
		if _, err := c.UnsetEnv(context.Background(), app, "K1", nil); err != nil {
			t.Errorf("deployed %t: removing an env at the limit: %v", deployed, err)
		}
	}
}

// The size limit is checked under the lock too: two values that each fit
// but together pass MaxEnvBytes leave one refused.
func TestFakeEnvBytesCheckedUnderTheLock(t *testing.T) {
	t.Parallel()
	c, app := mustOpenFakeApp(t, "bytes.example.com", 1)
	big := strings.Repeat("x", 20<<10)
	fillEnvs(t, c, app, 1, big) // about 20 KiB held; 64 KiB allowed
	for wave := range 2 {
		applied, refused := setConcurrently(t, c, app, []string{fmt.Sprintf("A%d", wave), fmt.Sprintf("B%d", wave)}, big)
		want := 2 * (1 - wave) // the first wave fills the room, the second finds none
		if applied != want || refused != 2-want {
			t.Errorf("wave %d: %d applied and %d refused; want %d and %d", wave, applied, refused, want, 2-want)
		}
	}
	a, _ := c.DB.App(app)
	size := 0
	for k, v := range a.Envs {
		size += len(k) + 1 + len(v)
	}
	if size > cluster.MaxEnvBytes || len(a.Envs) != 3 {
		t.Errorf("the app holds %d envs in %d bytes; want 3 within %d", len(a.Envs), size, cluster.MaxEnvBytes)
	}
}
