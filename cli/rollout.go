package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	api "github.com/longshoreman/longshoreman/http"
)

// result is the final answer of a deploy, rollback, scale or env change.
type result struct {
	Revision  int
	Instances []string
	Took      time.Duration
}

// rollout sends a request that deploys (deploy, rollback, scale, envs) and
// prints each step as the controller reports it, one plain line each:
//
//	1.2s  healthy    127.0.0.2        127.0.0.2:32771
//
// It returns the final answer, or the server's error.
func (e *Env) rollout(ctx context.Context, r request) (*result, error) {
	cl, err := e.Client()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	resp, cancel, plain, err := cl.openStream(ctx, r)
	if err != nil {
		return nil, err
	}
	if resp == nil {
		// A plain JSON answer that is no error: the operation answered
		// at once, without a stream.
		var p api.RolloutResponse
		if err := json.Unmarshal(plain, &p); err != nil {
			return nil, fmt.Errorf("the controller at %s answered with JSON this client does not understand: %v", cl.URL, err)
		}
		return &result{Revision: p.Revision, Instances: p.Instances, Took: time.Since(start)}, nil
	}
	defer cancel()
	defer resp.Body.Close()
	var res *result
	done, err := eachLine(cl, resp.Body, "a progress line", func(p api.ProgressLine, _ []byte) (bool, error) {
		if p.Error == nil {
			printStep(e.Stdout, p.Progress)
			return false, nil
		}
		if err := say(p.LineError()); err != nil {
			return true, err
		}
		res = &result{Revision: p.Revision, Instances: p.Instances, Took: time.Since(start)}
		return true, nil
	})
	if done {
		return res, err
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("interrupted; the controller carries on: follow it with longshoreman history and longshoreman instances")
		}
		return nil, fmt.Errorf("the connection to %s broke during the rollout (%v): check its outcome with longshoreman history", cl.URL, err)
	}
	return nil, fmt.Errorf("the controller at %s ended the progress stream without a final answer: check the outcome with longshoreman history", cl.URL)
}

// printStep prints one progress step: elapsed time, step, host, and the
// instance or message.
func printStep(w io.Writer, p cluster.Progress) {
	detail := p.Instance
	if p.Message != "" {
		if detail != "" {
			detail += " "
		}
		detail += p.Message
	}
	line := fmt.Sprintf("%6.1fs  %-9s  %-15s  %s", float64(p.Elapsed)/1000, p.Step, orNone(p.Host), detail)
	fmt.Fprintln(w, strings.TrimRight(line, " "))
}

// printResult prints the summary of a rollout.
func printResult(w io.Writer, what string, res *result) {
	n := len(res.Instances)
	fmt.Fprintf(w, "%s: revision %d, %d %s, in %.1fs\n", what, res.Revision, n, plural(n, "instance", "instances"), res.Took.Seconds())
	for _, i := range res.Instances {
		fmt.Fprintf(w, "  %s\n", i)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
