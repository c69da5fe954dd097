package http

import (
	"context"
	"net/http"
	"strconv"

	"github.com/longshoreman/longshoreman/cluster"
)

// waitContext returns the context a deploy, rollback, scale or env change
// runs with: the request's, asking the operation to wait its turn behind
// the app's running one (cluster.WithWait) when wait is set or a timeout
// is given. A timeout out of range is EINVALID.
func waitContext(r *http.Request, wait bool, timeout *cluster.Duration) (context.Context, error) {
	if !wait && timeout == nil {
		return r.Context(), nil
	}
	d := cluster.DefaultWaitTimeout
	if timeout != nil {
		d = timeout.D()
		if err := cluster.ValidateWaitTimeout(d); err != nil {
			return nil, err
		}
	}
	return cluster.WithWait(r.Context(), d), nil
}

// waitQuery reads wait and wait_timeout from the query of a request
// without a body (DELETE /apps/:app/envs/:key?wait=true&wait_timeout=5m).
func waitQuery(r *http.Request) (wait bool, timeout *cluster.Duration, err error) {
	q := r.URL.Query()
	if v := q.Get("wait"); v != "" {
		if wait, err = strconv.ParseBool(v); err != nil {
			return false, nil, cluster.Errorf(cluster.EINVALID, "Parameter \"wait\" must be true or false, not %q.", v)
		}
	}
	if v := q.Get("wait_timeout"); v != "" {
		timeout = new(cluster.Duration)
		if err := timeout.UnmarshalJSON([]byte(strconv.Quote(v))); err != nil {
			return false, nil, cluster.Errorf(cluster.EINVALID, "Parameter \"wait_timeout\": %v.", err)
		}
	}
	return wait, timeout, nil
}
