// Package metrics exposes the controller's Prometheus metrics: deploys by
// outcome and their duration, instances by app and state, hosts up and
// down, routing-table publishes and their errors, API requests by route and
// status, failed authentications, reconcile pass durations, and the runs of
// scheduled jobs by outcome.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Sources are read at scrape time; any may be nil.
type Sources struct {
	Instances func() ([]cluster.Instance, error)
	Hosts     func() ([]cluster.Host, error)
	Down      func() []string
	Published func() (published, errors uint64)
	Leader    func() (leading bool, changes uint64)
	// CertExpiry gives the seconds until each served certificate expires.
	CertExpiry func() (map[string]float64, error)
}

// Metrics is the controller's registry. Its methods are safe for
// concurrent use.
type Metrics struct {
	registry       *prometheus.Registry
	deploys        *prometheus.CounterVec
	deployDuration prometheus.Histogram
	requests       *prometheus.HistogramVec
	seriesMu       sync.RWMutex // guards series
	series         map[requestKey]prometheus.Observer
	authFailures   prometheus.Counter
	reconcile      prometheus.Histogram
	jobRuns        *prometheus.CounterVec
}

// New registers every metric, reading gauges from src at scrape time.
func New(src Sources) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		deploys: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "longshoreman_deploys_total", Help: "Deploys (including env restarts and rollbacks) by outcome.",
		}, []string{"outcome"}),
		deployDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "longshoreman_deploy_duration_seconds", Help: "Time from a deploy's start to its end.",
			Buckets: []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600},
		}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "longshoreman_http_request_duration_seconds", Help: "API request durations by route, method and status.",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30, 120},
		}, []string{"route", "method", "status"}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "longshoreman_auth_failures_total", Help: "API requests refused for a missing or wrong token.",
		}),
		reconcile: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "longshoreman_reconcile_pass_duration_seconds", Help: "Duration of one reconcile pass over every app.",
			Buckets: []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30},
		}),
		jobRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "longshoreman_job_runs_total", Help: "Runs of scheduled jobs by app, job and outcome (succeeded, failed, skipped, lost).",
		}, []string{"app", "job", "outcome"}),
	}
	m.registry.MustRegister(m.deploys, m.deployDuration, m.requests, m.authFailures, m.reconcile, m.jobRuns,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&stateCollector{src: src})
	for _, outcome := range []string{cluster.StatusSucceeded, cluster.StatusFailed} {
		m.deploys.WithLabelValues(outcome)
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Deploy records a finished deploy.
func (m *Metrics) Deploy(outcome string, d time.Duration) {
	m.deploys.WithLabelValues(outcome).Inc()
	m.deployDuration.Observe(d.Seconds())
}

// JobRun counts one run of a scheduled job by its outcome. The app and
// job labels are bounded by the jobs the operator created
// (cluster.MaxJobs per app).
func (m *Metrics) JobRun(app, job, outcome string) {
	m.jobRuns.WithLabelValues(app, job, outcome).Inc()
}

// ReconcilePass records one reconcile pass.
func (m *Metrics) ReconcilePass(d time.Duration) { m.reconcile.Observe(d.Seconds()) }

// Request records one API request; route is the registered pattern or
// "unmatched". Methods outside the standard set are recorded as "other", so
// that clients cannot create series at will.
func (m *Metrics) Request(route, method string, status int, d time.Duration) {
	k := requestKey{route: route, method: MethodLabel(method), status: status}
	m.seriesMu.RLock()
	o, ok := m.series[k]
	m.seriesMu.RUnlock()
	if !ok {
		// Routes, methods and statuses are the API's own few: the series
		// kept here are the ones the histogram keeps anyway.
		o = m.requests.WithLabelValues(k.route, k.method, strconv.Itoa(status))
		m.seriesMu.Lock()
		if m.series == nil {
			m.series = map[requestKey]prometheus.Observer{}
		}
		m.series[k] = o
		m.seriesMu.Unlock()
	}
	o.Observe(d.Seconds())
}

// requestKey names one series of the request histogram.
type requestKey struct {
	route, method string
	status        int
}

// MethodLabel returns method when it is one of the methods the API knows of,
// and "other" for anything else.
func MethodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions:
		return method
	}
	return "other"
}

// AuthFailed counts a refused request.
func (m *Metrics) AuthFailed() { m.authFailures.Inc() }

// stateCollector reads instance, host and publisher state at scrape time.
type stateCollector struct{ src Sources }

var (
	instancesDesc = prometheus.NewDesc("longshoreman_instances", "Instances by app and state (routed: healthy and in the routing table).", []string{"app", "state"}, nil)
	hostsDesc     = prometheus.NewDesc("longshoreman_hosts", "Hosts by state.", []string{"state"}, nil)
	publishesDesc = prometheus.NewDesc("longshoreman_routes_published_total", "Routing tables published to Redis.", nil, nil)
	pubErrorsDesc = prometheus.NewDesc("longshoreman_routes_publish_errors_total", "Failed routing-table publishes and Redis subscription failures.", nil, nil)
	leaderDesc    = prometheus.NewDesc("longshoreman_leader", "1 while this controller leads (always on a data file), 0 while it follows.", nil, nil)
	changesDesc   = prometheus.NewDesc("longshoreman_leader_changes_total", "Times this controller gained or lost the leadership.", nil, nil)
	certDesc      = prometheus.NewDesc("longshoreman_cert_expiry_seconds", "Seconds until the certificate of a domain served over HTTPS expires (negative: expired).", []string{"domain"}, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- instancesDesc
	ch <- hostsDesc
	ch <- publishesDesc
	ch <- pubErrorsDesc
	ch <- leaderDesc
	ch <- changesDesc
	ch <- certDesc
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src.Instances != nil {
		if insts, err := c.src.Instances(); err == nil {
			type key struct{ app, state string }
			counts := map[key]int{}
			for _, i := range insts {
				state := "unrouted"
				if i.Routed {
					state = "routed"
				}
				counts[key{i.App, state}]++
			}
			for k, n := range counts {
				ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(n), k.app, k.state)
			}
		}
	}
	if c.src.Hosts != nil {
		if hosts, err := c.src.Hosts(); err == nil {
			down := 0
			if c.src.Down != nil {
				down = len(c.src.Down())
			}
			ch <- prometheus.MustNewConstMetric(hostsDesc, prometheus.GaugeValue, float64(len(hosts)-down), "up")
			ch <- prometheus.MustNewConstMetric(hostsDesc, prometheus.GaugeValue, float64(down), "down")
		}
	}
	if c.src.Published != nil {
		published, errors := c.src.Published()
		ch <- prometheus.MustNewConstMetric(publishesDesc, prometheus.CounterValue, float64(published))
		ch <- prometheus.MustNewConstMetric(pubErrorsDesc, prometheus.CounterValue, float64(errors))
	}
	if c.src.Leader != nil {
		leading, changes := c.src.Leader()
		v := 0.0
		if leading {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(leaderDesc, prometheus.GaugeValue, v)
		ch <- prometheus.MustNewConstMetric(changesDesc, prometheus.CounterValue, float64(changes))
	}
	if c.src.CertExpiry != nil {
		if exp, err := c.src.CertExpiry(); err == nil {
			for domain, s := range exp {
				ch <- prometheus.MustNewConstMetric(certDesc, prometheus.GaugeValue, s, domain)
			}
		}
	}
}
