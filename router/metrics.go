package router

import (
	"net/http"

	"github.com/longshoreman/longshoreman/cluster"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsPath serves, on any host and only with the router token (as
// StatusPath's full answer), the router's Prometheus metrics: the requests
// each app's limits refused, by app and code, the clients its rate limit
// tracks, and the requests held now. Their labels are bounded: an app is
// one of the table's limited apps, a code 429 or 413. The apps' traffic
// (traffic.go) is there too, by app of the table and class of answer.
const MetricsPath = "/_longshoreman/metrics"

var (
	limitedDesc = prometheus.NewDesc("longshoreman_router_limited_requests_total",
		"Requests the router answered itself because of the app's limits: 429 over its rate limit (per client address), 413 over its largest body.",
		[]string{"app", "code"}, nil)
	limitClientsDesc = prometheus.NewDesc("longshoreman_router_limit_clients",
		"Client addresses the app's rate limit tracks now (at most the router's cap per app).",
		[]string{"app"}, nil)
	heldDesc = prometheus.NewDesc("longshoreman_router_held_requests",
		"Requests waiting now for a held app to have an instance.", nil, nil)
	requestsDesc = prometheus.NewDesc("longshoreman_router_requests_total",
		"Requests to the app answered, by class of answer: 2xx (with 1xx), 3xx, 4xx, 5xx (but 502 and 504), 502, 504.",
		[]string{"app", "class"}, nil)
	answerBytesDesc = prometheus.NewDesc("longshoreman_router_answer_bytes_total",
		"Answer body bytes sent to the app's clients.", []string{"app"}, nil)
	latencyDesc = prometheus.NewDesc("longshoreman_router_request_duration_seconds",
		"Time from a request's head to the end of its answer, for the app's requests.", []string{"app"}, nil)
)

// newMetrics returns the handler of the router's metrics, read from the
// applied table at each scrape: a request served costs nothing more.
func (r *Router) newMetrics() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(routerCollector{r})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// routerCollector reads the router's figures at scrape time. An app leaves
// the metrics with its limits, and its counts start from 0 if it is
// limited again (a counter reset to Prometheus).
type routerCollector struct{ r *Router }

func (c routerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- limitedDesc
	ch <- limitClientsDesc
	ch <- heldDesc
	ch <- requestsDesc
	ch <- answerBytesDesc
	ch <- latencyDesc
}

func (c routerCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(heldDesc, prometheus.GaugeValue, float64(c.r.Held()))
	s := c.r.snap.Load()
	if s == nil {
		return
	}
	for name, a := range s.apps {
		t := a.totals()
		for i, n := range t.Answers {
			ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.CounterValue, float64(n), name, cluster.ClassNames[i])
		}
		ch <- prometheus.MustNewConstMetric(answerBytesDesc, prometheus.CounterValue, float64(t.Bytes), name)
		buckets := make(map[float64]uint64, len(cluster.LatencyBounds))
		var cum uint64
		for i, b := range cluster.LatencyBounds {
			cum += t.Latency[i]
			buckets[b.Seconds()] = cum
		}
		// The sum is not kept (it would cost an add per request): the
		// histogram's quantiles need only the buckets.
		ch <- prometheus.MustNewConstHistogram(latencyDesc, t.Requests(), 0, buckets, name)
	}
	for name, l := range s.limits {
		ch <- prometheus.MustNewConstMetric(limitedDesc, prometheus.CounterValue, float64(l.counts.tooMany.Load()), name, "429")
		ch <- prometheus.MustNewConstMetric(limitedDesc, prometheus.CounterValue, float64(l.counts.tooLarge.Load()), name, "413")
		if l.clients != nil {
			ch <- prometheus.MustNewConstMetric(limitClientsDesc, prometheus.GaugeValue, float64(l.clients.tracked()), name)
		}
	}
}

// Metrics serves the router's metrics (see MetricsPath) to whoever may
// read them.
func (r *Router) Metrics() http.Handler { return r.metrics }
