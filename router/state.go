package router

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/pubsub"
)

// StatusPath answers, on any host, whether the router is ok: without the
// router token only {"status": "ok"} (200, once it has a routing table) or
// {"status": "not ok"} (503), as the controller's /healthz does, since
// anyone may ask; with it (Authorization: Bearer, or X-Auth) the Status:
// what the router serves, from which controller, its certificates' domains
// and what it dropped, with no secret in it.
const StatusPath = "/_longshoreman/status"

// clusterFile is the file in the state directory that keeps the cluster
// served.
const clusterFile = "cluster"

// state is the router's kept state: the cluster it serves.
type state struct {
	dir     string
	cluster string // "" until kept or given
}

// openState reads the kept cluster from dir, or keeps override there when
// given. A directory that cannot be made or written fails the start: a
// router that cannot keep its cluster would take another one after a
// restart.
func openState(dir, override string) (*state, error) {
	s := &state{dir: dir, cluster: strings.TrimSpace(override)}
	if dir == "" {
		return s, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot make the state directory %s (%v): give a writable directory with --state-dir or LONGSHOREMAN_ROUTER_STATE", dir, err)
	}
	if s.cluster != "" {
		return s, s.keep(s.cluster)
	}
	b, err := os.ReadFile(filepath.Join(dir, clusterFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Check now that the directory is writable, not at the first table.
		f, err := os.CreateTemp(dir, ".write-test-*")
		if err != nil {
			return nil, fmt.Errorf("cannot write in the state directory %s (%v): give a writable directory with --state-dir or LONGSHOREMAN_ROUTER_STATE", dir, err)
		}
		f.Close()
		os.Remove(f.Name())
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("cannot read the cluster kept in %s (%v): fix its permissions, or remove it to serve the first cluster heard", filepath.Join(dir, clusterFile), err)
	}
	s.cluster = strings.TrimSpace(string(b))
	return s, nil
}

// keep writes the cluster served to the state directory, atomically; it is
// the subscriber's Adopt.
func (s *state) keep(cluster string) error {
	if s.dir == "" {
		return nil
	}
	path := filepath.Join(s.dir, clusterFile)
	if err := writeFileAtomic(path, []byte(cluster+"\n")); err != nil {
		return fmt.Errorf("cannot keep the cluster in %s: %w", path, err)
	}
	return nil
}

// tableFile keeps the last routing table applied, so that a router
// restarted while the controller or Redis is away serves what it served
// before (the table holds no secret; the file is 0600 all the same).
const tableFile = "table.json"

// keepTable writes t, the table just applied, to the state directory.
func (s *state) keepTable(t cluster.RoutingTable) error {
	if s.dir == "" {
		return nil
	}
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	path := filepath.Join(s.dir, tableFile)
	if err := writeFileAtomic(path, data); err != nil {
		return fmt.Errorf("cannot keep the routing table in %s: %w", path, err)
	}
	return nil
}

// keptTable returns the table kept by an earlier run when it is of the
// cluster served (any, when none is kept yet); ok is false when there is
// none to serve.
func (s *state) keptTable() (t cluster.RoutingTable, ok bool, err error) {
	if s.dir == "" {
		return t, false, nil
	}
	path := filepath.Join(s.dir, tableFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return t, false, nil
	} else if err != nil {
		return t, false, fmt.Errorf("cannot read the routing table kept in %s: %w", path, err)
	}
	if err := json.Unmarshal(data, &t); err != nil {
		return t, false, fmt.Errorf("the routing table kept in %s is damaged (%v); it is ignored and replaced by the next table heard", path, err)
	}
	if s.cluster != "" && t.Cluster != s.cluster {
		return t, false, nil
	}
	return t, true, nil
}

// putLatest replaces the value waiting in c (of capacity 1), if any, with
// v, without blocking: the one reader needs only the newest. Only one
// goroutine may put.
func putLatest[T any](c chan T, v T) {
	select {
	case <-c:
	default:
	}
	c <- v
}

// writeFileAtomic replaces path with data (mode 0600): written to a
// temporary file in the same directory, synced, renamed over path, and
// the directory synced so that the rename survives a crash.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*") // 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Status is the answer at StatusPath.
type Status struct {
	Cluster        string    `json:"cluster"`         // the cluster served; "" until the first table when none was kept
	ForeignCluster string    `json:"foreign_cluster"` // the last other cluster heard publishing on the channel
	Epoch          uint64    `json:"epoch"`
	Version        uint64    `json:"version"`
	Controller     string    `json:"controller"`
	AppliedAt      time.Time `json:"applied_at"` // zero until the first table
	Connected      bool      `json:"connected"`  // subscribed to Redis right now
	Received       uint64    `json:"received"`   // messages heard on the channel, heartbeats included: it grows while the feed is alive
	Dropped        Dropped   `json:"dropped"`
	// Certs are the certificates served over HTTPS; nil when HTTPS is
	// off.
	Certs *CertsStatus `json:"certs,omitempty"`
}

// Dropped counts the messages the router did not apply, by reason.
type Dropped struct {
	Unsigned       uint64 `json:"unsigned"`
	BadSignature   uint64 `json:"bad_signature"`
	Invalid        uint64 `json:"invalid"`
	FutureEpoch    uint64 `json:"future_epoch"`
	ForeignCluster uint64 `json:"foreign_cluster"`
	Older          uint64 `json:"older"`
	// UnknownFormat: tables of a format this release does not read (a
	// canary's weights from a newer controller); logged as errors.
	UnknownFormat uint64 `json:"unknown_format"`
}

// Health is the answer at StatusPath to a request without the router token.
type Health struct {
	Status string `json:"status"` // "ok" once the router has a routing table, else "not ok"
}

// statusHandler answers StatusPath and MetricsPath and hands everything
// else to next.
type statusHandler struct {
	next  http.Handler
	r     *Router
	sub   *pubsub.Subscriber
	certs *certSource // nil: HTTPS off
	token string      // the router token; "" shows the Status to no one
}

func (h statusHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == MetricsPath {
		if !cluster.TokenEqual(cluster.RequestToken(req.Header), h.token) {
			plain(w, http.StatusUnauthorized, "The router's metrics need the router token: send it as Authorization: Bearer TOKEN (the router's LONGSHOREMAN_ROUTER_TOKEN; `longshoreman token --router` prints it).")
			return
		}
		h.r.Metrics().ServeHTTP(w, req)
		return
	}
	if req.URL.Path != StatusPath {
		h.next.ServeHTTP(w, req)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !cluster.TokenEqual(cluster.RequestToken(req.Header), h.token) {
		code, word := http.StatusOK, "ok"
		if h.r.snap.Load() == nil {
			code, word = http.StatusServiceUnavailable, "not ok"
		}
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(Health{Status: word})
		return
	}
	st := h.sub.Status()
	var certs *CertsStatus
	if h.certs != nil {
		certs = h.certs.status()
	}
	_ = json.NewEncoder(w).Encode(Status{
		Cluster: st.Cluster, ForeignCluster: st.ForeignCluster, Epoch: st.Epoch, Version: st.Version,
		Controller: st.Controller, AppliedAt: st.LastApplied, Connected: st.Connected,
		Received: st.Received,
		Dropped: Dropped{Unsigned: st.Unsigned, BadSignature: st.BadSignature, Invalid: st.Invalid,
			FutureEpoch: st.FutureEpoch, ForeignCluster: st.Foreign, Older: st.Older, UnknownFormat: st.UnknownFormat},
		Certs: certs,
	})
}
