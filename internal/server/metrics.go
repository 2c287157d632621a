package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
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
// and the operator metrics fed by the methods below (jobs, audit writes,
// passes, the TLS certificate's expiry).
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

	jobsRun     *prometheus.CounterVec
	jobFailures *prometheus.CounterVec
	jobDuration *prometheus.HistogramVec
	auditWrite  prometheus.Histogram
	passes      *prometheus.HistogramVec
	certs       *certExpiryCollector
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
	m.jobsRun = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "credtrack_jobs_run_total",
		Help: "Background jobs run, by kind and outcome (ok or failed).",
	}, []string{"kind", "outcome"})
	m.jobFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "credtrack_job_failures_total",
		Help: "Background job attempts that failed, by kind (a failed job is retried up to 5 times).",
	}, []string{"kind"})
	m.jobDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "credtrack_job_duration_seconds",
		Help:    "Time a background job's handler ran, by kind.",
		Buckets: passBuckets,
	}, []string{"kind"})
	m.auditWrite = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "credtrack_audit_write_seconds",
		Help: "Time from submitting a standalone audit event (read, denial, failed sign-in) to its group commit.",
		// 0.25 ms … ~4 s: a healthy commit is a few milliseconds.
		Buckets: prometheus.ExponentialBuckets(0.00025, 2, 15),
	})
	m.passes = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "credtrack_pass_duration_seconds",
		Help:    "Duration of periodic passes (screening, reminders, …), by pass and outcome.",
		Buckets: passBuckets,
	}, []string{"pass", "outcome"})
	m.certs = &certExpiryCollector{notAfter: map[string]time.Time{}, now: time.Now}
	reg.MustRegister(
		m.certs,
		m.requests,
		m.duration,
		m.jobsRun,
		m.jobFailures,
		m.jobDuration,
		m.auditWrite,
		m.passes,
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

// passBuckets span 10 ms to about 45 minutes: a pass over a small
// organization takes milliseconds, a monthly exclusion screening of a large
// one many minutes.
var passBuckets = prometheus.ExponentialBuckets(0.01, 3, 14)

// outcome labels an error as "ok" or "failed".
func outcome(err error) string {
	if err != nil {
		return "failed"
	}
	return "ok"
}

// ObserveJob records one run of a background job; it has the signature of
// jobs.Runner.Observe. kind must come from the code's job table, never
// from input, to keep the series bounded.
func (m *Metrics) ObserveJob(kind string, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.jobsRun.WithLabelValues(kind, outcome(err)).Inc()
	if err != nil {
		m.jobFailures.WithLabelValues(kind).Inc()
	}
	m.jobDuration.WithLabelValues(kind).Observe(d.Seconds())
}

// ObserveAuditWrite records the latency of one audit write; it has the
// signature sqlstore.DB.SetAuditObserver takes.
func (m *Metrics) ObserveAuditWrite(d time.Duration) {
	if m == nil {
		return
	}
	m.auditWrite.Observe(d.Seconds())
}

// ObservePass records one periodic pass (a screening run, a reminder
// sweep) under a fixed name such as "screening" or "reminders". Packages
// that run passes take a func(pass string, d time.Duration, err error)
// and the server wires this method in, so they need not import
// Prometheus.
func (m *Metrics) ObservePass(pass string, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.passes.WithLabelValues(pass, outcome(err)).Observe(d.Seconds())
}

// TimePass starts timing a pass and returns the function that records it:
//
//	done := metrics.TimePass("reminders")
//	err := sendReminders(ctx)
//	done(err)
func (m *Metrics) TimePass(pass string) func(err error) {
	start := time.Now()
	return func(err error) { m.ObservePass(pass, time.Since(start), err) }
}

// RegisterJobQueue exports the job queue read by counts at every scrape:
//
//	credtrack_jobs{state}   jobs per state (queued, running, done, failed)
//	credtrack_jobs_due      queued jobs whose time has come (the backlog)
//
// counts is sqlstore.DB.JobCounts; it gets a 2-second deadline. When it
// fails, the scrape reports the error instead of stale figures.
func (m *Metrics) RegisterJobQueue(counts func(context.Context) (map[string]int, int, error)) {
	m.reg.MustRegister(&jobQueueCollector{counts: counts})
}

var (
	jobsDesc    = prometheus.NewDesc("credtrack_jobs", "Background jobs in the database, by state.", []string{"state"}, nil)
	jobsDueDesc = prometheus.NewDesc("credtrack_jobs_due", "Queued background jobs that are due now (queue depth).", nil, nil)
)

type jobQueueCollector struct {
	counts func(context.Context) (map[string]int, int, error)
}

func (c *jobQueueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- jobsDesc
	ch <- jobsDueDesc
}

func (c *jobQueueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	byState, due, err := c.counts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(jobsDueDesc, err)
		return
	}
	for _, state := range []string{"queued", "running", "done", "failed"} {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(byState[state]), state)
	}
	ch <- prometheus.MustNewConstMetric(jobsDueDesc, prometheus.GaugeValue, float64(due))
}

// ObserveCertificate records leaf as the certificate served for name (a
// configured host name, which keeps the series bounded). It is called
// when a certificate is loaded, reloaded or renewed; the scrape reports
// credtrack_tls_certificate_expiry_seconds{name}, the seconds from the
// scrape to leaf's NotAfter (negative once it has passed).
func (m *Metrics) ObserveCertificate(name string, leaf *x509.Certificate) {
	if m == nil || leaf == nil {
		return
	}
	m.certs.mu.Lock()
	defer m.certs.mu.Unlock()
	m.certs.notAfter[name] = leaf.NotAfter
}

// WatchCertificates wraps getCert (an ACME manager's GetCertificate) so
// that the certificate each handshake for one of names is served is
// recorded with ObserveCertificate: a renewal shows in the metric from
// the first handshake that serves the renewed certificate. The short-lived
// certificates of tls-alpn-01 challenges and names outside names are not
// recorded.
func (m *Metrics) WatchCertificates(getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error), names []string) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if m == nil {
		return getCert
	}
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		cert, err := getCert(hello)
		if err != nil || cert == nil || slices.Contains(hello.SupportedProtos, acmeTLS1Protocol) {
			return cert, err
		}
		name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
		if !slices.Contains(names, name) {
			return cert, err
		}
		leaf := cert.Leaf
		if leaf == nil && len(cert.Certificate) > 0 {
			if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
				return cert, nil // served as it is; the metric just misses it
			}
		}
		m.ObserveCertificate(name, leaf)
		return cert, nil
	}
}

// acmeTLS1Protocol is the ALPN protocol of ACME tls-alpn-01 challenge
// handshakes (RFC 8737; acme.ALPNProto), named here so this package does
// not import the ACME client.
const acmeTLS1Protocol = "acme-tls/1"

var certExpiryDesc = prometheus.NewDesc("credtrack_tls_certificate_expiry_seconds",
	"Seconds until the NotAfter of the TLS certificate served for name (negative once expired).", []string{"name"}, nil)

// certExpiryCollector reports the certificates' remaining lifetime at
// scrape time, so the figure is current without a ticker.
type certExpiryCollector struct {
	mu       sync.Mutex
	notAfter map[string]time.Time
	now      func() time.Time
}

func (c *certExpiryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- certExpiryDesc }

func (c *certExpiryCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for name, t := range c.notAfter {
		ch <- prometheus.MustNewConstMetric(certExpiryDesc, prometheus.GaugeValue, t.Sub(now).Seconds(), name)
	}
}
