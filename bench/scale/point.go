package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	nethttp "net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/longshoreman/longshoreman/db"
	"github.com/longshoreman/longshoreman/docker"
	"github.com/longshoreman/longshoreman/http"
	"github.com/longshoreman/longshoreman/scheduler"
)

// pointConfig says how to measure one size.
type pointConfig struct {
	Instances  int
	DockerPort int
	Redis      string
	Duration   time.Duration
	Clients    int
	Passes     int
	Changes    int
	Populate   string
	Parallel   int
	Profile    string
	Dir        string
	Verbose    bool
	// ProbeInterval and MaxProbes tune the reconciler's health checks.
	ProbeInterval time.Duration
	MaxProbes     int
}

// PointResult is what one size measured.
type PointResult struct {
	Instances    int           `json:"instances"`
	Apps         int           `json:"apps"`
	Hosts        int           `json:"hosts"`
	Populate     string        `json:"populate"`
	PopulateTime time.Duration `json:"populate_time"`

	API []EndpointResult `json:"api"`

	Build      Stat `json:"build"`      // db.RoutingTable() after a change
	Publish    Stat `json:"publish"`    // encode + PUBLISH
	EndToEnd   Stat `json:"end_to_end"` // SetRouted + Changed() -> subscriber has the new version
	TableBytes int  `json:"table_bytes"`
	Redis      bool `json:"redis"`

	PassWall    Stat  `json:"pass_wall"`
	PassCPU     Stat  `json:"pass_cpu"`     // the process's CPU over the pass less the health checks' steady share
	PassCPURaw  Stat  `json:"pass_cpu_raw"` // the process's CPU over the pass, health checks included
	PassActions int64 `json:"pass_actions"` // reconcile log records in measured passes: 0 in a steady cluster

	Probes ProbeResult `json:"probes"`

	RSS        int64 `json:"rss"`        // VmRSS after GC, at the end
	RSSPeak    int64 `json:"rss_peak"`   // VmHWM
	HeapInuse  int64 `json:"heap_inuse"` // after GC
	DataFile   int64 `json:"data_file"`  // bytes on disk
	Goroutines int   `json:"goroutines"`

	// PeakRSS is VmHWM per phase (reset between phases through
	// /proc/self/clear_refs): populate, reconcile, routes and each endpoint.
	PeakRSS map[string]int64 `json:"peak_rss"`
	// Serial is each endpoint's latency with one client: its service time.
	Serial []EndpointResult `json:"serial"`
	// LoadAvg is /proc/loadavg at the start and the end: other work on the
	// machine inflates wall times.
	LoadAvg [2]string `json:"loadavg"`
}

// phasePeak records VmHWM as the peak of phase and resets it.
func (r *PointResult) phasePeak(phase string) {
	if r.PeakRSS == nil {
		r.PeakRSS = map[string]int64{}
	}
	r.PeakRSS[phase] = procStatus("VmHWM")
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func (c pointConfig) logf(format string, args ...any) {
	if c.Verbose {
		fmt.Fprintf(os.Stderr, "scale[%d]: "+format+"\n", append([]any{c.Instances}, args...)...)
	}
}

// shape returns apps and hosts for n instances: 10 instances per app, as
// many hosts as apps up to 100.
func shape(n int) (apps, hosts int) {
	apps = n / 10
	return apps, min(apps, 100)
}

func appName(i int) string { return fmt.Sprintf("app%04d.bench.example.com", i) }

func runPoint(cfg pointConfig) (*PointResult, error) {
	nApps, nHosts := shape(cfg.Instances)
	res := &PointResult{Instances: cfg.Instances, Apps: nApps, Hosts: nHosts}
	res.LoadAvg[0] = loadAvg()
	stopFake, setFailing, err := startFakeEngines(nHosts, cfg.DockerPort)
	if err != nil {
		return nil, err
	}
	defer stopFake()

	dir := cfg.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "scale-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	}
	path := filepath.Join(dir, "scale-"+strconv.Itoa(cfg.Instances)+".db")
	os.Remove(path)
	store, err := db.Open(path, db.Options{Create: true})
	if err != nil {
		return nil, err
	}
	defer store.Close()

	var routesChanged atomic.Int64
	actions := &countingHandler{}
	engines := docker.New(docker.Config{Port: cfg.DockerPort, Controller: store.ControllerID()})
	defer engines.Close()
	sched := scheduler.New(store, engines, scheduler.Config{
		Controller: store.ControllerID(), Drain: time.Millisecond, MaxCount: 64,
		Logger: slog.New(actions), RoutesChange: func() { routesChanged.Add(1) },
		KeepImages: -1, // the fake Docker API has no images to prune
	})

	if err := populate(cfg, sched, store, engines, nApps, nHosts, res); err != nil {
		return nil, err
	}

	if err := measureReconcile(cfg, sched, store, setFailing, actions, res); err != nil {
		return nil, err
	}
	res.phasePeak("reconcile")

	// Routing table build and publish.
	if err := measureRoutes(cfg, store, res); err != nil {
		return nil, err
	}
	res.phasePeak("routes")

	if err := measureAPI(cfg, store, sched, nApps, res); err != nil {
		return nil, err
	}

	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapInuse = int64(ms.HeapInuse)
	res.RSS, res.RSSPeak = procStatus("VmRSS"), procStatus("VmHWM")
	res.Goroutines = runtime.NumGoroutine()
	res.LoadAvg[1] = loadAvg()
	if fi, err := os.Stat(path); err == nil {
		res.DataFile = fi.Size()
	}
	return res, nil
}

// populate adds the point's hosts and apps (through the scheduler, or
// straight into the data file past 1,000 instances with -populate auto),
// checks that every instance is routed, and records the time taken.
func populate(cfg pointConfig, sched *scheduler.Scheduler, store *db.DB, engines *docker.Engines, nApps, nHosts int, res *PointResult) error {
	mode := cfg.Populate
	if mode == "auto" {
		mode = "scheduler"
		if cfg.Instances > 1000 {
			mode = "db"
		}
	}
	res.Populate = mode
	start := time.Now()
	for i := range nHosts {
		if _, err := store.AddHost(hostAddr(i)); err != nil {
			return err
		}
	}
	var err error
	switch mode {
	case "scheduler":
		err = populateScheduler(sched, store, nApps, cfg.Parallel)
	case "db":
		err = populateDB(store, engines, nApps, nHosts)
	default:
		err = fmt.Errorf("-populate must be scheduler, db or auto, not %q", cfg.Populate)
	}
	if err != nil {
		return err
	}
	res.PopulateTime = time.Since(start)
	insts, err := store.AllInstances()
	if err != nil {
		return err
	}
	routed := 0
	for _, i := range insts {
		if i.Routed {
			routed++
		}
	}
	if routed != cfg.Instances {
		return fmt.Errorf("populated %d routed instances of %d (%d records)", routed, cfg.Instances, len(insts))
	}
	cfg.logf("populated %d instances through %s in %s", routed, mode, res.PopulateTime.Round(time.Millisecond))
	runtime.GC()
	debug.FreeOSMemory()
	res.phasePeak("populate")

	return nil
}

// measureAPI loads the API's read endpoints on a real listener, as
// serve.go wires it: once with one client, for the service time, then
// with cfg.Clients.
func measureAPI(cfg pointConfig, store *db.DB, sched *scheduler.Scheduler, nApps int, res *PointResult) error {
	const token = "bench-token"
	api := http.NewServer(&http.Server{Store: store, Scheduler: sched, Token: token})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &nethttp.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 20 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	base := "http://" + l.Addr().String()
	for _, ep := range []struct{ name, path string }{
		{"GET /apps", "/apps"},
		{"GET /describe", "/describe"},
		{"GET /:app/instances", "/%s/instances"},
	} {
		one := cfg
		one.Clients, one.Profile = 1, ""
		one.Duration = min(cfg.Duration, time.Second)
		r, err := loadEndpoint(one, base, token, ep.name, ep.path, nApps)
		if err != nil {
			return err
		}
		res.Serial = append(res.Serial, r)
		if r, err = loadEndpoint(cfg, base, token, ep.name, ep.path, nApps); err != nil {
			return err
		}
		res.API = append(res.API, r)
		res.phasePeak(ep.name)
		cfg.logf("%s: %d requests, p50 %s p99 %s; one client: p50 %s", ep.name, r.Requests, r.P50, r.P99, res.Serial[len(res.Serial)-1].P50)
	}

	return nil
}

// measureRoutes times db.RoutingTable() after a change, its encoding and
// PUBLISH to redis, and the whole path through the real publisher to a
// subscriber.
func measureRoutes(cfg pointConfig, store *db.DB, res *PointResult) error {
	apps, err := store.Apps()
	if err != nil || len(apps) == 0 {
		return fmt.Errorf("no apps: %v", err)
	}
	flip := func(i int) error {
		app := apps[i%len(apps)]
		insts, err := store.Instances(app)
		if err != nil || len(insts) == 0 {
			return fmt.Errorf("instances of %s: %v", app, err)
		}
		inst := insts[0]
		return store.SetRouted(app, []string{inst.ID}, !inst.Routed)
	}
	if _, err := store.RoutingTable(); err != nil {
		return err
	}
	var builds []time.Duration
	stopProfile := startProfile(cfg, "build")
	for i := range cfg.Changes {
		if err := flip(i); err != nil {
			return err
		}
		t0 := time.Now()
		t, err := store.RoutingTable()
		builds = append(builds, time.Since(t0))
		if err != nil {
			return err
		}
		if b, err := encodeTable(t); err == nil {
			res.TableBytes = len(b)
		}
	}
	stopProfile()
	res.Build = stat(builds)
	cfg.logf("routing table build: %s (%d bytes)", res.Build, res.TableBytes)
	if cfg.Redis == "" {
		return nil
	}
	res.Redis = true
	client := redis.NewClient(&redis.Options{Addr: cfg.Redis, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
	defer client.Close()
	pub, e2e, err := measurePublish(cfg, store, client, flip)
	if err != nil {
		return err
	}
	res.Publish, res.EndToEnd = pub, e2e
	cfg.logf("publish: %s; change to subscriber: %s", res.Publish, res.EndToEnd)
	return nil
}

// procStatus returns a /proc/self/status field given in kB, in bytes.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// countingHandler is a slog handler that counts the records at Info and
// above: in a steady cluster a reconcile pass logs nothing.
type countingHandler struct {
	n atomic.Int64
}

func (h *countingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h *countingHandler) Handle(context.Context, slog.Record) error {
	h.n.Add(1)
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
