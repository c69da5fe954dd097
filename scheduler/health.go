package scheduler

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// healthChecker probes instances over HTTP.
type healthChecker struct {
	client *http.Client
}

// newHealthChecker returns a deploy's checker: a fresh connection per
// probe, as a router meeting a new instance would.
func newHealthChecker() *healthChecker {
	return &healthChecker{client: &http.Client{
		Timeout:       2 * time.Second,
		Transport:     &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// probe does one GET of path on addr and returns nil for a 2xx, or what it
// saw instead.
func (h *healthChecker) probe(ctx context.Context, addr, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s answered %d %q", path, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// waitHealthy polls the instance until its health path answers 2xx, the
// check's timeout passes, or the container stops running (checked between
// probes, so a container that exits at start fails fast). Polls start at
// 50ms and back off to 1s.
func (s *Scheduler) waitHealthy(ctx context.Context, inst cluster.Instance, hc cluster.HealthCheck) error {
	hc = hc.WithDefaults()
	ctx, cancel := context.WithTimeout(ctx, hc.Timeout.D())
	defer cancel()
	delay := 50 * time.Millisecond
	var last error
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		err := s.health.probe(pctx, inst.Addr(), hc.Path)
		pcancel()
		if err == nil {
			return nil
		}
		// An attempt the check's deadline cut short says less than the
		// answer before it (a 500, say), which is what to report.
		if ctx.Err() == nil || last == nil {
			last = err
		}
		c, err := s.engines.Inspect(ctx, inst.Host, inst.ID)
		stopped := err == nil && (!c.Running || c.State == "restarting" || c.Restarts > 0)
		if err == nil && (c.OOMKilled || stopped && s.wasOOM(ctx, inst)) {
			return fmt.Errorf("the container was killed for memory (oom) before it answered its health check: it needs more than its memory limit, so raise --memory")
		}
		if stopped {
			return fmt.Errorf("the container stopped (%s, exit code %d) before it answered its health check", c.State, c.ExitCode)
		} else if cluster.ErrorCode(err) == cluster.ENOTFOUND {
			return fmt.Errorf("the container was removed before it answered its health check")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no 2xx from GET %s within %s; last answer: %v", hc.Path, hc.Timeout.D(), last)
		case <-time.After(delay):
		}
		delay = min(delay*2, time.Second)
	}
}

// probeConn does what probe does, over a connection of its own that it
// closes (Connection: close) before it returns, without an http.Transport:
// the prober checks every instance once per interval, so a pool would
// either hold a connection (and two goroutines) per instance or dial
// anyway. A redirect is not followed: it is not a 2xx.
func probeConn(ctx context.Context, addr, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	req.Close = true
	req.Header.Set("User-Agent", "longshoreman-health-check")
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	if err := req.Write(conn); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 1024), req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return fmt.Errorf("GET %s answered %d %q", path, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}
