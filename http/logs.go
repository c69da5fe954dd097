package http

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// LogLine is one line of the answer to GET /apps/:app/logs?follow=true,
// sent as ndjson: {"instance":"HOST:PORT","host":...,"stream":"stdout",
// "time":RFC3339Nano,"line":...}; a line with "error" says an instance's
// output cannot be read for now.
type LogLine = cluster.LogLine

// logsQuery reads GET /apps/:app/logs's parameters: follow (a boolean),
// tail (0 to cluster.MaxLogLines lines per instance; cluster.DefaultLogLines
// when neither tail nor since is given, otherwise every line since, up to
// MaxLogLines without follow) and since (a duration before now, or an RFC
// 3339 time).
func logsQuery(r *http.Request) (cluster.LogOptions, error) {
	q := r.URL.Query()
	opts := cluster.LogOptions{Tail: cluster.DefaultLogLines}
	if v, given := q["follow"]; given {
		f, err := strconv.ParseBool(v[0])
		if err != nil {
			return opts, cluster.Errorf(cluster.EINVALID, "follow=%q is not a boolean: give follow=true to stream the lines as they come, or leave it out.", v[0])
		}
		opts.Follow = f
	}
	if v, given := q["since"]; given {
		t, err := cluster.ParseLogSince(v[0], time.Now())
		if err != nil {
			return opts, err
		}
		opts.Since = t
		opts.Tail = cluster.MaxLogLines
		if opts.Follow {
			opts.Tail = cluster.LogTailAll
		}
	}
	if v, given := q["tail"]; given {
		n, err := cluster.ParseLogTail(v[0])
		if err != nil {
			return opts, err
		}
		opts.Tail = n
	}
	return opts, nil
}

// followLogs streams the app's log lines as ndjson, one flushed line per
// log line, until the client goes, the leadership ends, or the server
// shuts down.
func (s *Server) followLogs(w http.ResponseWriter, r *http.Request, app string, opts cluster.LogOptions) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.follows.context(), cancel)
	defer stop()

	sw := newStreamWriter(w)
	sw.Header().Set("Content-Type", "application/x-ndjson")
	sw.WriteHeader(http.StatusOK)
	// The client learns at once that the stream is open, before any line.
	_ = sw.rc.Flush()
	enc := json.NewEncoder(sw)
	var writeErr error
	err := s.Scheduler.FollowLogs(ctx, app, opts, func(l cluster.LogLine) error {
		if writeErr = enc.Encode(l); writeErr == nil {
			writeErr = sw.rc.Flush()
		}
		return writeErr
	})
	if err == nil || writeErr != nil || ctx.Err() != nil {
		return
	}
	// The header went out: the error can only be the stream's last line.
	if cluster.ErrorCode(err) == cluster.EINTERNAL {
		s.Logger.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	answer := errorResponse(err)
	answer.Status = ErrorStatusCode(answer.Code)
	_ = enc.Encode(answer)
}

// followSet ends the log streams when the server shuts down: a stream
// lasts as long as its client stays, which would otherwise hold a graceful
// shutdown for its whole timeout.
type followSet struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
}

func (f *followSet) context() context.Context {
	f.once.Do(func() { f.ctx, f.cancel = context.WithCancel(context.Background()) })
	return f.ctx
}

// EndStreams ends every log stream being followed, and any started later;
// call it when the server shuts down (http.Server.RegisterOnShutdown).
func (s *Server) EndStreams() {
	s.follows.context()
	s.follows.cancel()
}
