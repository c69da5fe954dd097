package scheduler

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// logPoll is how often FollowLogs reads the app's instance records to see
// which instances started or stopped.
const logPoll = 500 * time.Millisecond

// Backoff between attempts to read an instance's output again after its
// stream ended (the container stopped, or its host failed).
const (
	logRetryMin = 500 * time.Millisecond
	logRetryMax = 5 * time.Second
)

// Logs returns the lines of every instance of app that opts picks (Follow
// is ignored), each prefixed with the instance's address; an instance's
// stdout and stderr are merged in time order. An instance whose output
// cannot be read gets one line saying why.
func (s *Scheduler) Logs(ctx context.Context, app string, opts cluster.LogOptions) ([]string, error) {
	insts, err := s.store.Instances(app)
	if err != nil {
		return nil, err
	}
	opts.Follow = false
	per := make([][]string, len(insts))
	var wg sync.WaitGroup
	for i, inst := range insts {
		wg.Go(func() {
			lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			var got []cluster.LogLine
			err := s.engines.StreamLogs(lctx, inst.Host, inst.ID, opts, func(l cluster.LogLine) error {
				got = append(got, l)
				return nil
			})
			if err != nil {
				per[i] = []string{inst.Addr() + " (logs unavailable: " + cluster.ErrorMessage(err) + ")"}
				return
			}
			sort.SliceStable(got, func(a, b int) bool { return got[a].Time.Before(got[b].Time) })
			if opts.Tail >= 0 && len(got) > opts.Tail {
				got = got[len(got)-opts.Tail:]
			}
			for _, l := range got {
				per[i] = append(per[i], inst.Addr()+" "+l.Line)
			}
		})
	}
	wg.Wait()
	out := []string{}
	for _, p := range per {
		out = append(out, p...)
	}
	return out, nil
}

// FollowLogs sends every line the instances of app print to emit, each
// with its instance, until ctx ends or emit fails; it returns emit's
// error, or ctx's. The instances there when it starts send the lines opts
// picks first; an instance that starts later joins with all its lines, so
// that nothing it printed before its record appeared is lost; one whose
// record goes leaves. An instance whose container stops and starts again
// goes on from its last line. When an instance's output cannot be read (its
// host fails), emit gets one line with Error set, and the instance is
// tried again until it comes back or leaves.
//
// emit is called from one goroutine at a time. FollowLogs returns only
// once every goroutine it started has ended.
func (s *Scheduler) FollowLogs(ctx context.Context, app string, opts cluster.LogOptions, emit func(cluster.LogLine) error) error {
	insts, err := s.store.Instances(app)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()

	var mu sync.Mutex // serializes emit; guards failed
	var failed error
	send := func(l cluster.LogLine) error {
		mu.Lock()
		defer mu.Unlock()
		if failed == nil && ctx.Err() == nil {
			if failed = emit(l); failed != nil {
				cancel()
			}
		}
		if failed != nil {
			return failed
		}
		return ctx.Err()
	}

	start := time.Now()
	followers := map[string]context.CancelFunc{} // by container id
	tick := time.NewTicker(logPoll)
	defer tick.Stop()
	for first := true; ; first = false {
		seen := map[string]bool{}
		for _, inst := range insts {
			seen[inst.ID] = true
			if followers[inst.ID] != nil {
				continue
			}
			o := opts
			if !first {
				o = joinOptions(inst, start)
			}
			o.Follow = true
			fctx, fcancel := context.WithCancel(ctx)
			followers[inst.ID] = fcancel
			wg.Go(func() {
				s.followInstance(fctx, inst, o, send)
			})
		}
		for id, stop := range followers {
			if !seen[id] {
				stop()
				delete(followers, id)
			}
		}
		select {
		case <-ctx.Done():
			mu.Lock()
			defer mu.Unlock()
			if failed != nil {
				return failed
			}
			return ctx.Err()
		case <-tick.C:
		}
		// A failed read keeps the instances as they were: a store that
		// does not answer for a moment must not make every instance leave.
		if got, err := s.store.Instances(app); err == nil {
			insts = got
		}
	}
}

// joinOptions picks the lines of an instance that appeared while the
// stream ran. One started after the stream did sends all its lines (its
// container started before its record was written, and Docker's clock may
// differ from ours, so a time would risk losing its first lines); one
// older than the stream, seen late, sends what it printed since the
// stream started.
func joinOptions(inst cluster.Instance, start time.Time) cluster.LogOptions {
	if inst.Started.After(start) {
		return cluster.LogOptions{Tail: cluster.LogTailAll}
	}
	return cluster.LogOptions{Tail: cluster.LogTailAll, Since: start}
}

// followInstance sends inst's lines until ctx ends or send fails. When the
// output ends (the container stopped, or the host's stream broke) it reads
// again from after the last line it sent, with a growing pause, since a
// container restarted by Docker goes on under the same id.
func (s *Scheduler) followInstance(ctx context.Context, inst cluster.Instance, opts cluster.LogOptions, send func(cluster.LogLine) error) {
	addr := inst.Addr()
	attempt := time.Now()
	var last time.Time // the last line's timestamp, Docker's clock
	reported := false  // an error line was sent since the last good read
	pause := logRetryMin
	for {
		var sendErr error
		err := s.engines.StreamLogs(ctx, inst.Host, inst.ID, opts, func(l cluster.LogLine) error {
			l.Instance, l.Host = addr, inst.Host
			if !l.Time.IsZero() {
				last = l.Time
			}
			reported, pause = false, logRetryMin
			sendErr = send(l)
			return sendErr
		})
		if ctx.Err() != nil || sendErr != nil {
			return
		}
		// A container that is gone is leaving: its record goes next, and
		// its stream ends without a word.
		if err != nil && cluster.ErrorCode(err) != cluster.ENOTFOUND && !reported {
			reported = true
			msg := "logs unavailable: " + cluster.ErrorMessage(err)
			if send(cluster.LogLine{Instance: addr, Host: inst.Host, Time: time.Now().UTC(), Error: msg}) != nil {
				return
			}
		}
		opts = resumeOptions(opts, last, attempt)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, logRetryMax)
	}
}

// resumeOptions picks the lines to read when an instance's output is read
// again: those after the last one sent; when none was sent, those the
// first read would have sent had they been there, or, when it asked for
// only the last few lines, those printed since it began.
func resumeOptions(first cluster.LogOptions, last, began time.Time) cluster.LogOptions {
	o := cluster.LogOptions{Tail: cluster.LogTailAll, Follow: true}
	switch {
	case !last.IsZero():
		o.Since = last.Add(time.Nanosecond)
	case !first.Since.IsZero():
		o.Since = first.Since
	case first.Tail != cluster.LogTailAll:
		o.Since = began
	}
	return o
}
