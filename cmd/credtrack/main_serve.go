package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"credtrack"
	"credtrack/internal/admin"
	"credtrack/internal/alerts"
	"credtrack/internal/api"
	"credtrack/internal/auth"
	"credtrack/internal/blob"
	"credtrack/internal/config"
	"credtrack/internal/jobs"
	"credtrack/internal/mail"
	"credtrack/internal/psv"
	"credtrack/internal/reminders"
	"credtrack/internal/screening"
	"credtrack/internal/server"
	"credtrack/internal/sqlstore"
	"credtrack/internal/web"
)

// runServe implements `credtrack serve`.
func (m *Main) runServe(ctx context.Context, args []string) error {
	cfg := config.Default()
	fs := m.newFlagSet("serve", "serve [flags]")
	migrate := fs.Bool("migrate", true, "apply pending migrations at start; with false, refuse to start on an outdated schema")
	if err := parseErr(cfg.Load(fs, args, m.Getenv)); err != nil {
		return err
	}
	a, err := m.openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.migrateOrCheck(ctx, *migrate); err != nil {
		return err
	}
	return m.serve(ctx, a, nil)
}

// handler builds the whole HTTP surface: health and metrics, the JSON
// API and the web pages, on one mux whose patterns name the routes in logs
// and metrics.
func (a *app) handler(authSvc *auth.Service, reg *prometheus.Registry, metrics *server.Metrics) (http.Handler, []string) {
	webH := web.New(web.Options{
		Auth: authSvc, Providers: a.db, Orgs: a.db, Logger: a.log,
		SecureCookies: !a.cfg.DevInsecureCookies, Audit: a.db,
		AuditLog: a.db,
		Signup:   authSvc,
		MFA:      authSvc, DemoTOTPCode: a.demoTOTPCode,
		Admin:         &admin.Service{Store: a.db, Mail: authSvc.Mail, BaseURL: authSvc.BaseURL, Log: a.log},
		Verifier:      a.verification(),
		Roster:        a.db,
		RosterTempDir: a.cfg.DataDir,
		Records:       a.db, Documents: a.docs, MaxUploadBytes: a.cfg.MaxUploadBytes,
		Screening:    a.db,
		SharedLimits: a.sharedLimits(),
	})
	apiOpts := api.Options{Tokens: a.db, Providers: a.db, Credentials: a.db, Records: a.db, Audit: a.db, Orgs: a.db, Logger: a.log}
	if docSvc, err := a.documents(); err != nil {
		// The document routes answer 503 until the blob store is usable.
		a.log.Error("the document store cannot be opened; document routes are unavailable", "err", err)
	} else {
		apiOpts.Documents, apiOpts.MaxDocumentSize = docSvc, docSvc.MaxSize
	}
	apiH := api.New(apiOpts)
	checks := []server.Check{{Name: "database", Func: a.db.Ping}}
	if a.blobs != nil {
		checks = append(checks, server.Check{Name: "blob store", Func: func(ctx context.Context) error { return blob.Health(ctx, a.blobs) }})
	}
	healthz, readyz := server.Health(checks...)
	top := http.NewServeMux()
	var patterns []string
	handle := func(p string, h http.Handler) { top.Handle(p, h); patterns = append(patterns, p) }
	handle("GET /healthz", healthz)
	handle("GET /readyz", readyz)
	if a.cfg.MetricsListen == "" {
		// With --metrics-listen the metrics have a listener of their own
		// and the public one has no such route.
		handle("GET /metrics", loopbackOnly(metrics.Handler()))
	}
	if st, ok := a.securityTxt(); ok {
		handle("GET /.well-known/security.txt", st.Handler())
	}
	for _, p := range apiH.Routes() {
		handle(p, apiH)
	}
	handle("/api/", apiH) // JSON 404/405 for everything else under /api/
	for _, p := range webH.Routes() {
		handle(p, webH)
	}
	handle("/", webH) // the web 404 page
	server.RegisterDB(reg, "primary", a.db.WriteDB())
	metrics.RegisterJobQueue(a.db.JobCounts)
	a.db.SetAuditObserver(metrics.ObserveAuditWrite)
	// The client address is settled first, so that throttles, audit
	// events and the /metrics loopback check all see the same one. The
	// security headers sit outside everything, so that redirects, 404s,
	// 405s and the panic page carry them too.
	trusted, _ := config.ParseTrustedProxies(a.cfg.TrustedProxies) // validated by config.Load
	return server.SecurityHeaders(server.ClientAddress(server.Wrap(top, metrics, a.log), trusted), a.cfg.HSTSMaxAge), patterns
}

// securityTxt is /.well-known/security.txt from the configuration; ok is
// false when no contact is configured (then there is no such route).
func (a *app) securityTxt() (server.SecurityTxt, bool) {
	c := a.cfg
	if c.SecurityContact == "" {
		return server.SecurityTxt{}, false
	}
	exp, err := config.ParseSecurityExpires(c.SecurityExpires)
	if err != nil { // validated by config.Load
		return server.SecurityTxt{}, false
	}
	st := server.SecurityTxt{Expires: exp, Policy: c.SecurityPolicy}
	for v := range strings.SplitSeq(c.SecurityContact, ",") {
		st.Contact = append(st.Contact, strings.TrimSpace(v))
	}
	for v := range strings.SplitSeq(c.SecurityLanguages, ",") {
		if v = strings.TrimSpace(v); v != "" {
			st.Languages = append(st.Languages, v)
		}
	}
	if strings.HasPrefix(c.PublicURL(), "https://") {
		st.Canonical = c.PublicURL() + "/.well-known/security.txt"
	}
	return st, true
}

// screeningService is the exclusion screening service of the server: the
// monitoring job raises alerts that are emailed through the server's mailer.
func (a *app) screeningService(authSvc *auth.Service) *screening.Service {
	return &screening.Service{Store: a.db, Log: a.log,
		Alerts: &alerts.Service{Store: a.db, Mail: authSvc.Mail, BaseURL: authSvc.BaseURL, Log: a.log}}
}

// reminderService is the daily credential expiry reminder pass: alerts
// for the coordinators and emails to the linked providers through the
// app's mailer, each pass timed in metrics.
func (a *app) reminderService(metrics *server.Metrics) *reminders.Service {
	al := a.alertService() // sets up a.mail
	return &reminders.Service{Store: a.db, Alerts: al, Mail: al.Mail, BaseURL: a.cfg.PublicURL(), Log: a.log,
		TimePass: metrics.TimePass}
}

// mailer returns the app's mail sender, setting it up on first use: SMTP
// when smtp-host is set; else (serve) nothing is sent and the log says so
// (never the body: it may hold a reset link). The demo sets its own first.
func (a *app) mailer() (mail.Sender, error) {
	if a.mail == nil {
		ms, err := newMailer(a.cfg, mail.LogSender{Log: a.log})
		if err != nil {
			return nil, err
		}
		a.mail = ms
	}
	return a.mail, nil
}

// alertService raises alerts for an organization's coordinators: stored
// and shown in the app, emailed through the app's mailer (none when the
// SMTP configuration is unusable, which config.Load refuses anyway, and
// none in the demo unless it has SMTP: see app.quietAlerts).
func (a *app) alertService() *alerts.Service {
	ms, err := a.mailer()
	if err != nil {
		a.log.Error("alerts are not emailed: the mail configuration is unusable", "err", err)
	}
	if a.quietAlerts {
		ms = nil
	}
	return &alerts.Service{Store: a.db, Mail: ms, BaseURL: a.cfg.PublicURL(), Log: a.log}
}

// sharedLimits returns the database as the store of the per-address
// throttles on PostgreSQL, where several serve processes may run behind
// one load balancer and per-process buckets would multiply the limit by
// the number of processes. SQLite is one process by construction: its
// buckets stay in memory, which costs no write per sign-in attempt.
func (a *app) sharedLimits() web.SharedLimits {
	if a.db.Backend() == sqlstore.Postgres {
		return a.db
	}
	return nil
}

// loopbackOnly serves /metrics to local scrapers only: the figures say
// how busy an installation is, which is nobody else's business. It reads
// the client address that server.ClientAddress settled, so a request a
// trusted proxy on this host relays for an outside client is refused. A
// request carrying a forwarding header is refused as well, whoever sent
// it: a scraper on this host talks to us directly, and a proxy on this
// host that is not in --trusted-proxies would otherwise relay the
// Internet's requests from 127.0.0.1. Expose the metrics further through
// a deliberate proxy rule that strips those headers, if needed.
func loopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() || forwarded(r) {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// forwarded reports whether r carries a header that reverse proxies add
// to the requests they relay.
func forwarded(r *http.Request) bool {
	for _, k := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "Via"} {
		if _, ok := r.Header[k]; ok {
			return true
		}
	}
	return false
}

// serve runs the server until ctx is cancelled (SIGINT/SIGTERM), then
// stops taking requests, drains the in-flight ones and the running jobs,
// and returns. started, when set, runs once the listener is open.
func (m *Main) serve(ctx context.Context, a *app, started func(addr string)) error {
	if a.cfg.DevInsecureCookies {
		a.log.Warn("cookies are sent without Secure and without the __Host- prefix: plain-http development mode only")
	}
	if _, err := a.mailer(); err != nil {
		return err
	}
	authSvc := &auth.Service{Store: a.db, Hasher: a.hasher, Idle: a.cfg.SessionIdle, Lifetime: a.cfg.SessionLifetime, Log: a.log,
		Mail: a.mail, BaseURL: a.cfg.PublicURL()}
	reg := prometheus.NewRegistry()
	metrics := server.NewMetrics(reg)
	h, _ := a.handler(authSvc, reg, metrics)
	tlsCtx, stopTLS := context.WithCancel(context.WithoutCancel(ctx))
	defer stopTLS()
	tlsCfg, acmeHTTP, err := a.tlsSetup(tlsCtx, metrics)
	if err != nil {
		return err
	}
	srv, err := server.Listen(server.Options{Addr: a.cfg.Listen, Handler: h, Logger: a.log, TLSConfig: tlsCfg,
		ShutdownTimeout: a.cfg.ShutdownTimeout})
	if err != nil {
		return err
	}
	servers := []*server.Server{srv}
	if tlsCfg != nil && a.cfg.HTTPListen != "" {
		// Plain HTTP answers only with a 301 to the configured host (and,
		// with ACME, the http-01 challenges).
		var rh http.Handler = server.RedirectHTTPS(a.cfg.CanonicalHost())
		if acmeHTTP != nil {
			rh = acmeHTTP(rh)
		}
		mux := http.NewServeMux()
		mux.Handle("/", rh)
		redirect, err := server.Listen(server.Options{Addr: a.cfg.HTTPListen, Handler: server.SecurityHeaders(server.Wrap(mux, nil, a.log), 0),
			Logger: a.log, ShutdownTimeout: a.cfg.ShutdownTimeout})
		if err != nil {
			srv.Shutdown(context.Background())
			return err
		}
		servers = append(servers, redirect)
		a.log.Info("plain HTTP redirects to https", "addr", redirect.Addr().String(), "to", "https://"+a.cfg.CanonicalHost())
		if m.RedirectReady != nil {
			m.RedirectReady(redirect.Addr().String())
		}
	}
	if a.cfg.MetricsListen != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics.Handler())
		ms, err := server.Listen(server.Options{Addr: a.cfg.MetricsListen, Handler: server.SecurityHeaders(server.Wrap(mux, nil, a.log), 0),
			Logger: a.log, ShutdownTimeout: a.cfg.ShutdownTimeout})
		if err != nil {
			for _, s := range servers {
				s.Shutdown(context.Background())
			}
			return err
		}
		servers = append(servers, ms)
		a.log.Info("metrics are served on their own listener, without authentication: keep it on a private network", "addr", ms.Addr().String())
		if m.MetricsReady != nil {
			m.MetricsReady(ms.Addr().String())
		}
	}
	kinds := jobs.Builtin(a.db, a.cfg.SessionIdle)
	kinds[psv.JobKind] = jobs.Kind{Handler: a.verification().RunJob}
	for name, k := range keyRotationJobs(a) {
		kinds[name] = k
	}
	screenSvc := a.screeningService(authSvc)
	screenSvc.TimePass = metrics.TimePass
	maps.Copy(kinds, screenSvc.JobKinds())
	maps.Copy(kinds, a.reminderService(metrics).JobKinds())
	backupDst, err := backupTarget(ctx, a.cfg)
	if err != nil {
		for _, s := range servers {
			s.Shutdown(context.Background())
		}
		return fmt.Errorf("backup destination: %w", err)
	}
	if backupDst != nil {
		kinds["backup.create"] = a.backupJob(backupDst)
	}
	runner := jobs.NewRunner(a.db, a.log, kinds)
	runner.Observe = metrics.ObserveJob
	if backupDst != nil && runner.Lease < time.Hour {
		// A claimed job is another node's to run until its lease ends; a
		// backup of a large installation can take longer than the default.
		runner.Lease = time.Hour
	}
	jobsCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	jobsDone := make(chan struct{})
	go func() { defer close(jobsDone); runner.Run(jobsCtx) }()

	addr := srv.Addr().String()
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	} else if !isLoopback(a.cfg.Listen) {
		a.log.Warn("serving plain HTTP on a non-loopback address: terminate TLS in a reverse proxy, or set --tls-cert/--tls-key or --acme-domains")
	}
	a.log.Info("credtrack is serving", "addr", addr, "scheme", scheme, "backend", string(a.db.Backend()), "version", credtrack.Version)
	if started != nil {
		started(addr)
	}
	if m.Ready != nil {
		m.Ready(addr)
	}
	serveErr := make(chan error, len(servers))
	for _, s := range servers {
		go func() { serveErr <- s.Serve() }()
	}
	select {
	case err := <-serveErr:
		for _, s := range servers {
			s.Shutdown(context.Background())
		}
		stopJobs()
		<-jobsDone
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down: draining requests and jobs", "timeout", a.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	for _, s := range servers {
		err = errors.Join(err, s.Shutdown(sctx))
	}
	stopJobs() // a running job finishes its current step; none is started after this
	select {
	case <-jobsDone:
	case <-sctx.Done():
		err = errors.Join(err, fmt.Errorf("jobs did not finish within %s", a.cfg.ShutdownTimeout))
	}
	for range servers {
		if e := <-serveErr; e != nil {
			err = errors.Join(err, e)
		}
	}
	a.log.Info("stopped")
	return err
}

// isLoopback reports whether a listen address is on the loopback interface.
func isLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
