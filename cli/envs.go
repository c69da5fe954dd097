package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"

	"github.com/longshoreman/longshoreman/cluster"
	api "github.com/longshoreman/longshoreman/http"
)

// runEnvs prints KEY=value lines.
func runEnvs(ctx context.Context, c *Call) error {
	var out api.EnvsResponse
	err := c.get(ctx, appPath(c.App, "envs"), &out)
	return c.lines(err, out.Envs, "")
}

// runEnvsSet checks every KEY=value first, then sends them all at once,
// one request each, as the 2014 client did: the controller merges env
// changes that arrive together into one revision, so a deployed app
// restarts once (twice when another env change was running).
func runEnvsSet(ctx context.Context, c *Call) error {
	wait, timeout, err := waitOptions(c)
	if err != nil {
		return err
	}
	var reqs []envRequest
	for _, kv := range c.Args {
		key, _, err := cluster.ParseEnv(kv)
		if err != nil {
			return err
		}
		body := api.SetEnvRequest{Env: kv, Wait: wait, WaitTimeout: timeout}
		reqs = append(reqs, envRequest{key: key, req: request{method: "POST", path: appPath(c.App, "envs"), body: body}})
	}
	return c.envChanges(ctx, reqs, "Set %s on "+c.App, "setting")
}

// runEnvsRemove checks every KEY, then removes them all at once, merged
// like runEnvsSet.
func runEnvsRemove(ctx context.Context, c *Call) error {
	wait, timeout, err := waitOptions(c)
	if err != nil {
		return err
	}
	var reqs []envRequest
	for _, key := range c.Args {
		if err := cluster.ValidateEnvKey(key); err != nil {
			return err
		}
		path := appPath(c.App, "envs/"+url.PathEscape(key)) + waitQuery(wait, timeout)
		reqs = append(reqs, envRequest{key: key, req: request{method: "DELETE", path: path}})
	}
	return c.envChanges(ctx, reqs, "Removed %s from "+c.App, "removing")
}

// envRequest is the change of one key.
type envRequest struct {
	key string
	req request
}

// envChanges sends every request at once, prints their progress (a step
// the controller reports to several of them is printed once) and then one
// summary of those that succeeded; the failures are returned, each
// naming its key.
func (c *Call) envChanges(ctx context.Context, reqs []envRequest, done, doing string) error {
	if _, err := c.Client(); err != nil {
		return err
	}
	e := *c.Env
	e.Stdout = &uniqueLines{w: c.Stdout, seen: map[string]bool{}}
	results := make([]*result, len(reqs))
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = e.rollout(ctx, r.req)
		}()
	}
	wg.Wait()
	var keys []string
	var last *result
	var failed []error
	for i, r := range reqs {
		if errs[i] != nil {
			failed = append(failed, fmt.Errorf("%s %s: %w", doing, r.key, errs[i]))
			continue
		}
		keys = append(keys, r.key)
		// The highest revision has every change that succeeded.
		if last == nil || results[i].Revision > last.Revision || (results[i].Revision == last.Revision && results[i].Took > last.Took) {
			last = results[i]
		}
	}
	if last != nil {
		c.envDone(fmt.Sprintf(done, strings.Join(keys, ", ")), last)
	}
	return errors.Join(failed...)
}

// uniqueLines writes each line once, from several goroutines: requests
// merged into one revision all report its steps.
type uniqueLines struct {
	w    io.Writer
	mu   sync.Mutex // guards seen and writes to w
	seen map[string]bool
}

func (u *uniqueLines) Write(p []byte) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.seen[string(p)] {
		return len(p), nil
	}
	u.seen[string(p)] = true
	return u.w.Write(p)
}

// envDone reports an env change: a restart when the app runs, else just
// the change.
func (e *Env) envDone(what string, res *result) {
	if len(res.Instances) == 0 {
		fmt.Fprintf(e.Stdout, "%s.\n", what)
		return
	}
	printResult(e.Stdout, what+" (restarted)", res)
}

// runSecretsRotate has the controller seal every env value with the first
// key of its LONGSHOREMAN_SECRETS_KEY.
func runSecretsRotate(ctx context.Context, c *Call) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var out api.RotateSecretsResponse
	if err := cl.do(ctx, request{method: "POST", path: "/secrets/rotate", long: true}, &out); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Every env value is now encrypted with key %s (%d records encrypted anew): the other keys of %s can be dropped.\n", out.KeyID, out.Sealed, cluster.SecretsKeyVar)
	return nil
}
