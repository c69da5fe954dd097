package fakedocker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is a fake Docker Engine API for one host address, for the scale
// benchmark (bench/scale), which drives it through the real docker
// package. It answers the endpoints the docker package calls
// (ping and version negotiation at API 1.41, info, container list with label
// filters, create, start, inspect, stop, remove, logs, image pull and
// inspect, events) from an in-memory table of containers. Nothing runs:
// instead every started container gets a real TCP listener on HOST:HostPort
// that answers any GET with 200, so the scheduler's health checks and the
// reconciler's probes do real HTTP on loopback, as they would against a
// real instance.
type Server struct {
	host     string // the IP this engine serves and publishes ports on
	apiPort  int
	nextPort int // first HostPort to try for the next container
	instance *http.Server
	calls    callCounts // endpoint -> requests, for the report

	mu         sync.Mutex // guards the fields below
	containers map[string]*fakeContainer
	images     map[string]bool
}

type fakeContainer struct {
	ID          string
	Name        string
	Image       string
	Labels      map[string]string
	PrivatePort int
	HostPort    int
	Running     bool
	Status      string // created, running, exited
	listener    net.Listener
}

// fakeAPIVersion is the API version the fake speaks: Debian's dockerd.
const fakeAPIVersion = "1.41"

// NewServer returns a fake engine for host, serving its API on
// host:apiPort once Serve is called, and publishing container ports from
// firstPort upwards.
func NewServer(host string, apiPort, firstPort int) *Server {
	inst := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "pong\n")
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	return &Server{
		host: host, apiPort: apiPort, nextPort: firstPort, instance: inst,
		containers: map[string]*fakeContainer{}, images: map[string]bool{},
	}
}

// SetInstanceHandler makes h answer the fake containers' HTTP requests
// instead of the default 200 "pong" to any GET, e.g. to make chosen ones
// fail their health checks. Call it before Serve.
func (f *Server) SetInstanceHandler(h http.Handler) { f.instance.Handler = h }

// Serve listens on host:apiPort and serves the API until ctx ends.
func (f *Server) Serve(ctx context.Context) error {
	l, err := net.Listen("tcp", net.JoinHostPort(f.host, strconv.Itoa(f.apiPort)))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
		_ = f.instance.Close()
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

var versionPrefix = regexp.MustCompile(`^/v[0-9]+\.[0-9]+/`)

// ServeHTTP routes one Docker API request.
func (f *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if loc := versionPrefix.FindStringIndex(path); loc != nil {
		path = path[loc[1]-1:]
	}
	w.Header().Set("Api-Version", fakeAPIVersion)
	w.Header().Set("Ostype", "linux")
	w.Header().Set("Server", "Docker/20.10.24+dfsg1 (linux) (fakedocker.Server)")

	switch {
	case path == "/_ping":
		f.count("ping")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
		if r.Method != http.MethodHead {
			_, _ = io.WriteString(w, "OK")
		}
	case path == "/version":
		f.count("version")
		writeJSON(w, http.StatusOK, map[string]any{
			"Version": "20.10.24", "ApiVersion": fakeAPIVersion, "MinAPIVersion": "1.12",
			"Os": "linux", "Arch": "amd64", "GoVersion": "go1.19.8",
		})
	case path == "/info":
		f.count("info")
		writeJSON(w, http.StatusOK, map[string]any{
			"ID": "fake-" + f.host, "Name": "fake-" + f.host, "NCPU": 4, "MemTotal": int64(16 << 30),
			"ServerVersion": "20.10.24", "OperatingSystem": "fake engine (fakedocker.Server)",
		})
	case path == "/containers/json" && r.Method == http.MethodGet:
		f.count("list")
		f.list(w, r)
	case path == "/containers/create" && r.Method == http.MethodPost:
		f.count("create")
		f.create(w, r)
	case path == "/events":
		f.count("events")
		f.events(w, r)
	case path == "/images/create" && r.Method == http.MethodPost:
		f.count("pull")
		f.pull(w, r)
	case strings.HasPrefix(path, "/images/") && strings.HasSuffix(path, "/json"):
		f.count("image-inspect")
		name := strings.TrimSuffix(strings.TrimPrefix(path, "/images/"), "/json")
		f.mu.Lock()
		ok := f.images[name]
		f.mu.Unlock()
		if !ok {
			writeError(w, http.StatusNotFound, "No such image: "+name)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"Id": "sha256:" + strings.Repeat("0", 64), "RepoTags": []string{name}})
	case strings.HasPrefix(path, "/containers/"):
		f.container(w, r, strings.TrimPrefix(path, "/containers/"))
	default:
		f.count("unknown")
		writeError(w, http.StatusNotFound, fmt.Sprintf("page not found: %s %s (the fake engine does not implement it)", r.Method, r.URL.Path))
	}
}

func (f *Server) count(endpoint string) { f.calls.add(endpoint) }

// Calls returns how many requests each endpoint got.
func (f *Server) Calls() map[string]int { return f.calls.counts() }

// container serves /containers/{id}/... and DELETE /containers/{id}.
func (f *Server) container(w http.ResponseWriter, r *http.Request, rest string) {
	id, action, _ := strings.Cut(rest, "/")
	f.mu.Lock()
	c := f.lookup(id)
	f.mu.Unlock()
	if c == nil {
		f.count("not-found")
		writeError(w, http.StatusNotFound, "No such container: "+id)
		return
	}
	switch {
	case action == "json" && r.Method == http.MethodGet:
		f.count("inspect")
		f.mu.Lock()
		body := inspectBody(f.host, c)
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, body)
	case action == "start" && r.Method == http.MethodPost:
		f.count("start")
		if err := f.start(c); err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case action == "stop" && r.Method == http.MethodPost:
		f.count("stop")
		f.mu.Lock()
		wasRunning := c.Running
		f.stopLocked(c)
		f.mu.Unlock()
		if !wasRunning {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case action == "" && r.Method == http.MethodDelete:
		f.count("remove")
		f.mu.Lock()
		if c.Running && r.URL.Query().Get("force") != "1" && r.URL.Query().Get("force") != "true" {
			f.mu.Unlock()
			writeError(w, http.StatusConflict, "You cannot remove a running container "+c.ID+". Stop the container before attempting removal or force remove")
			return
		}
		f.stopLocked(c)
		delete(f.containers, c.ID)
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case action == "logs" && r.Method == http.MethodGet:
		f.count("logs")
		// A multiplexed stream with one stdout frame, as dockerd sends for
		// a container without a TTY.
		line := []byte(time.Now().UTC().Format(time.RFC3339Nano) + " fake container " + c.ID[:12] + "\n")
		hdr := []byte{1, 0, 0, 0, 0, 0, 0, 0}
		n := len(line)
		hdr[4], hdr[5], hdr[6], hdr[7] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
		w.Header().Set("Content-Type", "application/vnd.docker.multiplexed-stream")
		_, _ = w.Write(append(hdr, line...))
	default:
		f.count("unknown")
		writeError(w, http.StatusNotFound, fmt.Sprintf("page not found: %s %s (the fake engine does not implement it)", r.Method, r.URL.Path))
	}
}

// lookup finds a container by full id, unique id prefix or name; f.mu held.
func (f *Server) lookup(id string) *fakeContainer {
	if c, ok := f.containers[id]; ok {
		return c
	}
	var found *fakeContainer
	for _, c := range f.containers {
		if c.Name == id || c.Name == "/"+id || (len(id) >= 12 && strings.HasPrefix(c.ID, id)) {
			if found != nil {
				return nil
			}
			found = c
		}
	}
	return found
}

type createRequest struct {
	Image        string              `json:"Image"`
	Labels       map[string]string   `json:"Labels"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts"`
	HostConfig   struct {
		PortBindings map[string][]struct {
			HostIP   string `json:"HostIp"`
			HostPort string `json:"HostPort"`
		} `json:"PortBindings"`
	} `json:"HostConfig"`
}

func (f *Server) create(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad create body: "+err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.images[req.Image] && !f.images[withLatest(req.Image)] {
		writeError(w, http.StatusNotFound, "No such image: "+req.Image)
		return
	}
	private := 0
	for p, bindings := range req.HostConfig.PortBindings {
		if len(bindings) == 0 {
			continue
		}
		n, proto, _ := strings.Cut(p, "/")
		if proto != "" && proto != "tcp" {
			continue
		}
		private, _ = strconv.Atoi(n)
	}
	if private == 0 {
		writeError(w, http.StatusBadRequest, "the fake engine needs one published tcp port")
		return
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	c := &fakeContainer{
		ID: hex.EncodeToString(b[:]), Name: r.URL.Query().Get("name"), Image: req.Image,
		Labels: req.Labels, PrivatePort: private, Status: "created",
	}
	f.containers[c.ID] = c
	writeJSON(w, http.StatusCreated, map[string]any{"Id": c.ID, "Warnings": []string{}})
}

// start binds the container's HostPort (the next free one on the host) and
// serves the instance endpoint on it.
func (f *Server) start(c *fakeContainer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.Running {
		return nil
	}
	for tries := 0; tries < 1000; tries++ {
		port := f.nextPort
		f.nextPort++
		if f.nextPort > 65000 {
			f.nextPort = 30000
		}
		l, err := net.Listen("tcp", net.JoinHostPort(f.host, strconv.Itoa(port)))
		if err != nil {
			continue
		}
		c.listener, c.HostPort, c.Running, c.Status = l, port, true, "running"
		go func() { _ = f.instance.Serve(l) }()
		return nil
	}
	return fmt.Errorf("no free port on %s", f.host)
}

// stopLocked closes the container's listener; f.mu held.
func (f *Server) stopLocked(c *fakeContainer) {
	if c.listener != nil {
		_ = c.listener.Close()
		c.listener = nil
	}
	c.Running, c.Status = false, "exited"
}

func inspectBody(host string, c *fakeContainer) map[string]any {
	ports := map[string]any{}
	if c.Running {
		ports[strconv.Itoa(c.PrivatePort)+"/tcp"] = []map[string]string{{"HostIp": host, "HostPort": strconv.Itoa(c.HostPort)}}
	}
	return map[string]any{
		"Id": c.ID, "Name": "/" + c.Name, "Image": "sha256:" + strings.Repeat("0", 64),
		"State": map[string]any{
			"Status": c.Status, "Running": c.Running, "Restarting": false, "ExitCode": 0,
			"StartedAt": time.Now().UTC().Format(time.RFC3339Nano),
		},
		"RestartCount": 0,
		"Config":       map[string]any{"Image": c.Image, "Labels": c.Labels},
		"HostConfig":   map[string]any{"RestartPolicy": map[string]any{"Name": "unless-stopped"}},
		"NetworkSettings": map[string]any{
			"Ports": ports,
		},
	}
}

func (f *Server) list(w http.ResponseWriter, r *http.Request) {
	labels, err := labelFilters(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	all := r.URL.Query().Get("all") == "1" || r.URL.Query().Get("all") == "true"
	out := []map[string]any{}
	f.mu.Lock()
	for _, c := range f.containers {
		if (!all && !c.Running) || !matchLabels(c.Labels, labels) {
			continue
		}
		ports := []map[string]any{}
		if c.Running {
			ports = append(ports, map[string]any{"IP": f.host, "PrivatePort": c.PrivatePort, "PublicPort": c.HostPort, "Type": "tcp"})
		} else {
			ports = append(ports, map[string]any{"PrivatePort": c.PrivatePort, "Type": "tcp"})
		}
		out = append(out, map[string]any{
			"Id": c.ID, "Names": []string{"/" + c.Name}, "Image": c.Image, "ImageID": "sha256:" + strings.Repeat("0", 64),
			"State": c.Status, "Status": c.Status, "Labels": c.Labels, "Ports": ports, "Created": time.Now().Unix(),
		})
	}
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// labelFilters reads the "label" entries of Docker's filters parameter
// ({"label":{"k":true,"k=v":true}}).
func labelFilters(q url.Values) ([]string, error) {
	raw := q.Get("filters")
	if raw == "" {
		return nil, nil
	}
	var filters map[string]map[string]bool
	if err := json.Unmarshal([]byte(raw), &filters); err != nil {
		return nil, fmt.Errorf("bad filters %q: %v", raw, err)
	}
	var out []string
	for l := range filters["label"] {
		out = append(out, l)
	}
	return out, nil
}

func matchLabels(have map[string]string, want []string) bool {
	for _, l := range want {
		k, v, withValue := strings.Cut(l, "=")
		got, ok := have[k]
		if !ok || (withValue && got != v) {
			return false
		}
	}
	return true
}

func (f *Server) pull(w http.ResponseWriter, r *http.Request) {
	ref := r.URL.Query().Get("fromImage")
	if tag := r.URL.Query().Get("tag"); tag != "" {
		ref += ":" + tag
	}
	ref = strings.TrimPrefix(strings.TrimPrefix(ref, "docker.io/"), "library/")
	f.mu.Lock()
	f.images[ref] = true
	f.images[withLatest(ref)] = true
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	_ = enc.Encode(map[string]string{"status": "Pulling from " + ref})
	_ = enc.Encode(map[string]string{"status": "Status: Image is up to date for " + ref})
}

// events holds the stream open (nothing happens on a fake host) until the
// client goes away.
func (f *Server) events(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	<-r.Context().Done()
}

// withLatest adds :latest to a reference without a tag or digest.
func withLatest(ref string) string {
	last := ref[strings.LastIndex(ref, "/")+1:]
	if strings.ContainsAny(last, ":@") {
		return ref
	}
	return ref + ":latest"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}
