package router

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsPath serves, on any host and only with the router token (as
// StatusPath's full answer), the router's Prometheus metrics: the requests
// each app's limits refused, by app and code, the clients its rate limit
// tracks, and the requests held now. Their labels are bounded: an app is
// one of the table's limited apps, a code 429 or 413.
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
}

func (c routerCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(heldDesc, prometheus.GaugeValue, float64(c.r.Held()))
	s := c.r.snap.Load()
	if s == nil {
		return
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
