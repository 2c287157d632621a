package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"credtrack"
	"credtrack/internal/admin"
	"credtrack/internal/api"
	"credtrack/internal/auth"
	"credtrack/internal/config"
	"credtrack/internal/jobs"
	"credtrack/internal/mail"
	"credtrack/internal/psv"
	"credtrack/internal/server"
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
	})
	apiOpts := api.Options{Tokens: a.db, Providers: a.db, Credentials: a.db, Records: a.db, Audit: a.db, Orgs: a.db, Logger: a.log}
	if docSvc, err := a.documents(); err != nil {
		// The document routes answer 503 until the blob store is usable.
		a.log.Error("the document store cannot be opened; document routes are unavailable", "err", err)
	} else {
		apiOpts.Documents, apiOpts.MaxDocumentSize = docSvc, docSvc.MaxSize
	}
	apiH := api.New(apiOpts)
	healthz, readyz := server.Health(a.db.Ping)
	top := http.NewServeMux()
	var patterns []string
	handle := func(p string, h http.Handler) { top.Handle(p, h); patterns = append(patterns, p) }
	handle("GET /healthz", healthz)
	handle("GET /readyz", readyz)
	handle("GET /metrics", loopbackOnly(metrics.Handler()))
	for _, p := range apiH.Routes() {
		handle(p, apiH)
	}
	handle("/api/", apiH) // JSON 404/405 for everything else under /api/
	for _, p := range webH.Routes() {
		handle(p, webH)
	}
	handle("/", webH) // the web 404 page
	server.RegisterDB(reg, "primary", a.db.WriteDB())
	return server.Wrap(top, metrics, a.log), patterns
}

// loopbackOnly serves /metrics to local scrapers only: the figures say
// how busy an installation is, which is nobody else's business. Expose
// them further through a reverse proxy rule if needed.
func loopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// serve runs the server until ctx is cancelled (SIGINT/SIGTERM), then
// stops taking requests, drains the in-flight ones and the running jobs,
// and returns. started, when set, runs once the listener is open.
func (m *Main) serve(ctx context.Context, a *app, started func(addr string)) error {
	if a.cfg.DevInsecureCookies {
		a.log.Warn("cookies are sent without Secure and without the __Host- prefix: plain-http development mode only")
	}
	if a.mail == nil {
		// Without SMTP, serve sends nothing and says so in the log (never
		// the body: it may hold a reset link).
		ms, err := newMailer(a.cfg, mail.LogSender{Log: a.log})
		if err != nil {
			return err
		}
		a.mail = ms
	}
	authSvc := &auth.Service{Store: a.db, Hasher: a.hasher, Idle: a.cfg.SessionIdle, Lifetime: a.cfg.SessionLifetime, Log: a.log,
		Mail: a.mail, BaseURL: a.cfg.PublicURL()}
	reg := prometheus.NewRegistry()
	metrics := server.NewMetrics(reg)
	h, _ := a.handler(authSvc, reg, metrics)
	srv, err := server.Listen(server.Options{Addr: a.cfg.Listen, Handler: h, Logger: a.log,
		ShutdownTimeout: a.cfg.ShutdownTimeout})
	if err != nil {
		return err
	}
	kinds := jobs.Builtin(a.db, a.cfg.SessionIdle)
	kinds[psv.JobKind] = jobs.Kind{Handler: a.verification().RunJob}
	for name, k := range keyRotationJobs(a) {
		kinds[name] = k
	}
	runner := jobs.NewRunner(a.db, a.log, kinds)
	jobsCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	jobsDone := make(chan struct{})
	go func() { defer close(jobsDone); runner.Run(jobsCtx) }()

	addr := srv.Addr().String()
	a.log.Info("credtrack is serving", "addr", addr, "backend", string(a.db.Backend()), "version", credtrack.Version)
	if started != nil {
		started(addr)
	}
	if m.Ready != nil {
		m.Ready(addr)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve() }()
	select {
	case err := <-serveErr:
		stopJobs()
		<-jobsDone
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down: draining requests and jobs", "timeout", a.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	stopJobs() // a running job finishes its current step; none is started after this
	select {
	case <-jobsDone:
	case <-sctx.Done():
		err = errors.Join(err, fmt.Errorf("jobs did not finish within %s", a.cfg.ShutdownTimeout))
	}
	if e := <-serveErr; e != nil {
		err = errors.Join(err, e)
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

var _ = time.Second
