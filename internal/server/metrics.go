package server

import (
	"database/sql"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds credtrack's Prometheus registry and the HTTP metrics that
// Wrap records:
//
//	credtrack_http_requests_total{method,route,code}
//	credtrack_http_request_duration_seconds{method,route}
//
// route is the mux pattern ("GET /providers/{id}") or "unmatched", never
// the URL path, so the number of series is bounded by the route table and
// no record ID or token ends up in the metrics.
//
// A nil *Metrics records nothing, which lets tests and tools pass nil to Wrap.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the HTTP metrics and the Go runtime and process
// collectors on reg and returns them. A dedicated registry, rather than
// prometheus.DefaultRegisterer, means only what credtrack chose to expose
// is exposed, and tests can make as many as they like. A nil reg gets a new
// registry. NewMetrics panics if reg already holds these metrics, which is
// a wiring bug.
func NewMetrics(reg *prometheus.Registry) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "credtrack_http_requests_total",
			Help: "HTTP requests served, by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "credtrack_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by method and route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
	}
	reg.MustRegister(
		m.requests,
		m.duration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Handler returns the handler for GET /metrics. The metrics reveal request
// rates and routes, so mount it where only the monitoring system can reach
// it (a separate listener or an authenticated route), not on the public site.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// One failing collector should not blank the whole scrape; the
		// failures are counted in promhttp_metric_handler_errors_total
		// on reg instead.
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg,
	})
}

// observe records one served request.
func (m *Metrics) observe(method, route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	method = metricMethod(method)
	code := "aborted"
	if status != 0 {
		code = strconv.Itoa(status)
	}
	m.requests.WithLabelValues(method, route, code).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

// metricMethod returns method if it is a standard HTTP method and "OTHER"
// otherwise. net/http accepts any token as a method, so without this a
// client could create a new series with every request.
func metricMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodConnect,
		http.MethodOptions, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// RegisterDB registers the connection-pool statistics of db (open, in use
// and idle connections, waits, closes) on reg, labelled db_name=name. The
// store opens separate read and write pools; register each under its own
// name ("read", "write") to see whether writers queue for the single write
// connection. It panics if name is already registered on reg.
func RegisterDB(reg *prometheus.Registry, name string, db *sql.DB) {
	reg.MustRegister(collectors.NewDBStatsCollector(db, name))
}
