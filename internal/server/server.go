// Package server is the HTTP server shell shared by the serve and demo
// commands: an *http.Server with timeouts, a listener opened up front so
// that a busy port is one clear error, graceful shutdown, the middleware
// every request goes through (request ID, access log and metrics, panic
// recovery), the Prometheus registry and the health endpoints.
//
// It holds no routes of its own; the web and api packages register theirs on
// an *http.ServeMux that the command passes to Wrap.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"

	"credtrack"
)

// The defaults of Options. ReadHeaderTimeout is short because a client that
// cannot send its headers in 10 s is broken or hostile (slowloris); the body
// and response timeouts are longer because document uploads and exports
// legitimately take a while on slow links.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultWriteTimeout      = 120 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultShutdownTimeout   = 30 * time.Second
)

// Options configures Listen. The zero value of every duration selects its
// Default* constant; a negative duration disables that timeout.
type Options struct {
	// Addr is the TCP address to listen on, such as "127.0.0.1:8080" or
	// ":0" for any free port (see Server.Addr).
	Addr string
	// Handler serves every request, usually the result of Wrap. It must
	// not be nil: http.Server would otherwise fall back to
	// http.DefaultServeMux, where any imported package (net/http/pprof,
	// expvar) may have registered handlers we never meant to expose.
	Handler http.Handler
	// TLSConfig, when set, serves HTTPS on Addr with it (see TLSConfig
	// and CertReloader); nil serves plain HTTP.
	TLSConfig *tls.Config
	// Logger receives the server's own errors (TLS handshakes, malformed
	// requests) and shutdown messages. Nil means slog.Default().
	Logger *slog.Logger

	// ReadHeaderTimeout bounds reading the request line and headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading the whole request, body included.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the request headers to
	// the end of the response.
	WriteTimeout time.Duration
	// IdleTimeout bounds how long a keep-alive connection waits for the
	// next request.
	IdleTimeout time.Duration
	// ShutdownTimeout bounds how long Shutdown waits for in-flight requests
	// before it closes their connections.
	ShutdownTimeout time.Duration
}

// orDefault returns d, or def when d is zero.
func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Server is a listening HTTP server. Create it with Listen, run it with
// Serve and stop it with Shutdown.
type Server struct {
	ln              net.Listener
	srv             *http.Server
	log             *slog.Logger
	shutdownTimeout time.Duration
}

// Listen opens the listening socket for opts.Addr and returns a Server ready
// to Serve. Opening the socket here, before anything is served, lets the
// command report a busy port as one clear error and exit, rather than
// logging it from a goroutine after the rest of the program has started.
//
// When the address is in use, the error reads "cannot listen on ADDR: the
// address is already in use; stop the other process or choose another
// --listen address". Any error from Listen carries a *credtrack.Error with
// the same message (so the CLI shows it instead of "Internal error.") and
// the underlying system error (so errors.Is(err, syscall.EADDRINUSE) works).
func Listen(opts Options) (*Server, error) {
	if opts.Handler == nil {
		return nil, errors.New("server: Options.Handler is nil")
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, listenError(opts.Addr, err)
	}
	srv := &http.Server{
		Handler:           opts.Handler,
		ReadHeaderTimeout: orDefault(opts.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       orDefault(opts.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:      orDefault(opts.WriteTimeout, DefaultWriteTimeout),
		IdleTimeout:       orDefault(opts.IdleTimeout, DefaultIdleTimeout),
		// net/http reports connection-level problems through a *log.Logger;
		// route them into slog so that they share the format and
		// destination of everything else. These are warnings: they are
		// caused by clients, not by us.
		ErrorLog:  slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		TLSConfig: opts.TLSConfig,
	}
	return &Server{
		ln:              ln,
		srv:             srv,
		log:             log,
		shutdownTimeout: orDefault(opts.ShutdownTimeout, DefaultShutdownTimeout),
	}, nil
}

// listenError turns a net.Listen error into the message an operator can act
// on. The *net.OpError text ("listen tcp 127.0.0.1:8080: bind: address
// already in use") repeats the address and names syscalls, so only its
// innermost part is kept.
func listenError(addr string, err error) error {
	var msg string
	if errors.Is(err, syscall.EADDRINUSE) {
		msg = fmt.Sprintf("cannot listen on %s: the address is already in use; stop the other process or choose another --listen address", addr)
	} else {
		detail := err
		var opErr *net.OpError
		if errors.As(err, &opErr) && opErr.Err != nil {
			detail = opErr.Err
		}
		msg = fmt.Sprintf("cannot listen on %s: %v", addr, detail)
	}
	return &addrError{msg: msg, err: err}
}

// addrError is a listen failure. Its Error text is the whole message; it
// unwraps both to a *credtrack.Error holding the same message (code
// EUNAVAILABLE: the address cannot serve now) and to the system error.
type addrError struct {
	msg string
	err error
}

func (e *addrError) Error() string { return e.msg }

func (e *addrError) Unwrap() []error {
	return []error{&credtrack.Error{Code: credtrack.EUNAVAILABLE, Message: e.msg}, e.err}
}

// Addr returns the address the server listens on. With Options.Addr ":0" it
// tells the caller (and tests) which port was chosen.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts connections until Shutdown is called, then returns nil. Any
// other return is an error that stopped the server.
func (s *Server) Serve() error {
	var err error
	if s.srv.TLSConfig != nil {
		// ServeTLS clones TLSConfig and adds HTTP/2; the certificates come
		// from its GetCertificate, so no file names are passed.
		err = s.srv.ServeTLS(s.ln, "", "")
	} else {
		err = s.srv.Serve(s.ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections and waits for in-flight requests to
// finish, for at most ctx's deadline and Options.ShutdownTimeout. If they do
// not finish in time, their connections are closed so that the process can
// exit, and the context's error is returned.
//
// Functions registered with OnShutdown are started when Shutdown begins.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.shutdownTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.shutdownTimeout)
		defer cancel()
	}
	err := s.srv.Shutdown(ctx)
	// http.Server only tracks the listener once Serve has started; close
	// it here too so that Shutdown before Serve does not leak the socket.
	// After Serve the listener is already closed and the error is moot.
	s.ln.Close()
	if err != nil {
		s.log.Warn("server: in-flight requests did not finish in time; closing their connections", "error", err)
		s.srv.Close()
		return fmt.Errorf("server: shutdown: %w", err)
	}
	return nil
}

// OnShutdown registers f to be called when Shutdown begins, so that
// background work tied to the server (job workers, open event streams) can
// start draining while requests finish. As with
// http.Server.RegisterOnShutdown, f runs in its own goroutine and Shutdown
// does not wait for it; a caller that must wait for the drain should wait
// on its own signal after Shutdown returns.
func (s *Server) OnShutdown(f func()) { s.srv.RegisterOnShutdown(f) }
