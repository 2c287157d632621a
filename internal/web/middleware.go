package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"credtrack"

	"golang.org/x/time/rate"
)

// maxFormBytes caps the body of every form post. The largest form (set
// password) is a few hundred bytes; 64 KiB leaves room for later forms
// while keeping a flood of garbage from tying up memory.
const maxFormBytes = 64 << 10

// session is what the layout needs to know about the signed-in user,
// kept in the request context next to the actor.
type session struct {
	token       string
	user        *credtrack.User
	memberships []*credtrack.Membership
}

type sessionKey struct{}

// sessionFromContext returns the session loaded by guard, or nil when the
// visitor is anonymous.
func sessionFromContext(ctx context.Context) *session {
	s, _ := ctx.Value(sessionKey{}).(*session)
	return s
}

// guard wraps a route's handler with what every page needs: the body
// limit, the session lookup and the route's policy.
func (h *Handler) guard(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if secretRoutes[rt.pattern] {
			w.Header().Set("Referrer-Policy", "no-referrer")
		}
		if rt.static {
			rt.handler(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			limit := int64(maxFormBytes)
			if rt.maxBody > 0 {
				limit = rt.maxBody
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		r, err := h.loadSession(w, r)
		if err != nil {
			h.renderError(w, r, err)
			return
		}
		a := credtrack.ActorFromContext(r.Context())
		if rt.policy.SignedIn && a.Kind == credtrack.ActorAnonymous {
			// A fixed target: the page asked for is not carried along,
			// because it may hold a record ID and because an open
			// "next=" parameter invites redirect abuse.
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if rt.policy.SignedIn && a.Kind == credtrack.ActorUser && !rt.policy.admitsStage(a.Stage) {
			// Signed in but not finished (email unverified, TOTP due or
			// not enrolled): only the pages that finish it are open.
			http.Redirect(w, r, stageHome[a.Stage], http.StatusSeeOther)
			return
		}
		if !rt.policy.allows(a) {
			if h.audit != nil {
				if err := h.audit.RecordEvent(r.Context(), &credtrack.AuditEvent{Action: "authz.denied", TargetType: "route",
					TargetID: rt.pattern, Outcome: credtrack.OutcomeDenied}); err != nil {
					h.logger.Error("audit of a denial failed", "err", err)
				}
			}
			h.renderError(w, r, credtrack.Errorf(credtrack.EFORBIDDEN, "Your role in this organization may not open this page."))
			return
		}
		rt.handler(w, r)
	})
}

// loadSession resolves the session cookie and returns r with the actor and
// session in its context. Visitors without a valid session get an
// anonymous actor that still carries IP, user agent and request ID, so a
// failed sign-in can be audited with them.
func (h *Handler) loadSession(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
	// The request facts go into the context before Auth is asked, so that
	// what Auth records (a session expiring, a login failing) carries them.
	base := credtrack.Actor{
		Kind:      credtrack.ActorAnonymous,
		IP:        clientIP(r),
		UserAgent: r.UserAgent(),
		// The request ID is minted by the outer server middleware, which
		// puts it on the response before calling us.
		RequestID: w.Header().Get("X-Request-ID"),
	}
	ctx := credtrack.NewContextWithActor(r.Context(), base)
	a := base
	var s *session
	if c, err := r.Cookie(h.sessionCookieName()); err == nil && c.Value != "" {
		sa, u, ms, err := h.auth.Session(ctx, c.Value)
		switch {
		case err == nil:
			a, s = sa, &session{token: c.Value, user: u, memberships: ms}
			a.IP, a.UserAgent, a.RequestID = base.IP, base.UserAgent, base.RequestID
		case credtrack.ErrorCode(err) == credtrack.EUNAUTHORIZED:
			// Expired or revoked: drop the cookie so the browser stops
			// presenting it, and carry on as anonymous.
			h.clearSessionCookie(w)
		default:
			return r.WithContext(ctx), err
		}
	}
	ctx = credtrack.NewContextWithActor(ctx, a)
	ctx = context.WithValue(ctx, sessionKey{}, s)
	return r.WithContext(ctx), nil
}

// clientIP returns the host part of r.RemoteAddr: the client's address,
// which server.ClientAddress has already taken from a trusted proxy's
// X-Forwarded-For (--trusted-proxies). Headers are never read here, so
// there is one answer to "who is this" for throttles and the audit log.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// parseForm parses a posted form, turning an over-long body into ETOOLARGE
// (a 413 page) and anything else unreadable into EINVALID.
func parseForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return credtrack.Errorf(credtrack.ETOOLARGE, "The form is too large.")
		}
		return credtrack.Errorf(credtrack.EINVALID, "The form could not be read.")
	}
	return nil
}

// sessionCookieName is "__Host-sid" on HTTPS: the prefix makes browsers
// refuse the cookie unless it is Secure, host-only and Path=/, so a
// sibling subdomain cannot plant or overwrite it.
func (h *Handler) sessionCookieName() string {
	if h.secureCookies {
		return "__Host-sid"
	}
	return "sid"
}

// flashCookieName follows the same rule as the session cookie.
func (h *Handler) flashCookieName() string {
	if h.secureCookies {
		return "__Host-flash"
	}
	return "flash"
}

// cookie returns a cookie with the attributes every credtrack cookie
// shares. It has no Max-Age or Expires unless the caller sets one, so the
// browser forgets it when it closes; the server enforces the real idle
// and absolute timeouts.
func (h *Handler) cookie(name, value string) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   h.secureCookies,
		SameSite: http.SameSiteLaxMode,
	}
}

func (h *Handler) setSessionCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, h.cookie(h.sessionCookieName(), token))
}

func (h *Handler) clearSessionCookie(w http.ResponseWriter) {
	c := h.cookie(h.sessionCookieName(), "")
	c.MaxAge = -1
	http.SetCookie(w, c)
}

// flashes maps the codes that may travel in the flash cookie to the text
// shown. Only codes travel, never text, so a flash can neither leak a
// token or identifier nor be used to inject a message.
var flashes = map[string]Flash{
	"signed-out":   {Kind: "info", Text: "You are signed out."},
	"password-set": {Kind: "info", Text: "Your password is set. Sign in with it now."},
}

// setFlash stores a flash code for the next page the browser loads.
func (h *Handler) setFlash(w http.ResponseWriter, code string) {
	c := h.cookie(h.flashCookieName(), code)
	c.MaxAge = 60
	http.SetCookie(w, c)
}

// takeFlash returns the flash stored by the previous response, if any, and
// deletes it so it shows once.
func (h *Handler) takeFlash(w http.ResponseWriter, r *http.Request) []Flash {
	c, err := r.Cookie(h.flashCookieName())
	if err != nil {
		return nil
	}
	del := h.cookie(h.flashCookieName(), "")
	del.MaxAge = -1
	http.SetCookie(w, del)
	if f, ok := flashes[c.Value]; ok {
		return []Flash{f}
	}
	return nil
}

// Defaults of the per-address sign-in throttle (SECURITY.md §1.1).
const (
	defaultLoginRate  = rate.Limit(10.0 / 60) // 10 a minute…
	defaultLoginBurst = 10                    // …all of which may come at once
	// limiterIdle is how long an address's bucket is kept after its last
	// request. Ten minutes is far longer than a bucket takes to refill,
	// so forgetting it loses nothing.
	limiterIdle = 10 * time.Minute
	// limiterMaxEntries bounds the map, so a spray of addresses cannot
	// grow it without limit between sweeps.
	limiterMaxEntries = 1 << 16
)

// ipLimiter is an in-memory token bucket per client address. It only slows
// down guessing from one network; the per-account lockout, kept in the
// database, is what holds across restarts and nodes.
type ipLimiter struct {
	limit rate.Limit
	burst int
	now   func() time.Time // the clock; tests may replace it
	// shared, when set, holds the buckets in the database under
	// scope+":"+key, for every node at once; the in-memory buckets then
	// serve only while the database cannot answer (failing open to a
	// per-process limit rather than refusing every sign-in).
	shared SharedLimits
	scope  string
	log    *slog.Logger

	mu        sync.Mutex
	entries   map[string]*ipBucket
	lastSweep time.Time
}

type ipBucket struct {
	lim      *rate.Limiter
	lastSeen time.Time
}

// newIPLimiter returns a limiter allowing limit events a second with the
// given burst per address; zero values select the defaults.
func newIPLimiter(limit rate.Limit, burst int) *ipLimiter {
	if limit <= 0 {
		limit = defaultLoginRate
	}
	if burst <= 0 {
		burst = defaultLoginBurst
	}
	return &ipLimiter{limit: limit, burst: burst, now: time.Now, entries: map[string]*ipBucket{}}
}

// allow takes one token from key's bucket. When none is left it reports
// false and how long until one is; the refused request takes no token, so
// a client that keeps hammering is not pushed further back than the limit.
func (l *ipLimiter) allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.entries[key]
	if b == nil {
		if len(l.entries) >= limiterMaxEntries {
			l.evictOldest()
		}
		b = &ipBucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.entries[key] = b
	}
	b.lastSeen = now
	res := b.lim.ReserveN(now, 1)
	if !res.OK() {
		return false, time.Minute
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// SharedLimits is a token bucket store every node shares (implemented by
// *sqlstore.DB on PostgreSQL).
type SharedLimits interface {
	TakeToken(ctx context.Context, key string, perSecond float64, burst int) (bool, time.Duration, error)
}

// allowRequest is allow through the shared store when there is one.
func (l *ipLimiter) allowRequest(ctx context.Context, key string) (bool, time.Duration) {
	if l.shared != nil {
		ok, wait, err := l.shared.TakeToken(ctx, l.scope+":"+key, float64(l.limit), l.burst)
		if err == nil {
			return ok, wait
		}
		l.log.Error("shared throttle unavailable; using this process's", "scope", l.scope, "err", err)
	}
	return l.allow(key)
}

// sweep drops buckets idle for longer than limiterIdle. It runs on access,
// at most once a minute, so there is no goroutine to stop.
func (l *ipLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Minute {
		return
	}
	l.lastSweep = now
	for k, b := range l.entries {
		if now.Sub(b.lastSeen) > limiterIdle {
			delete(l.entries, k)
		}
	}
}

// evictOldest makes room in a full map by dropping the least recently
// seen bucket. It is O(n) but runs only while someone sprays more than
// limiterMaxEntries addresses within ten minutes.
func (l *ipLimiter) evictOldest() {
	var oldest string
	var at time.Time
	for k, b := range l.entries {
		if oldest == "" || b.lastSeen.Before(at) {
			oldest, at = k, b.lastSeen
		}
	}
	delete(l.entries, oldest)
}

// limiterKey is the bucket key of a client address. An IPv6 client
// usually holds a whole /64 and can pick any address in it, so IPv6
// addresses share one bucket per /64; IPv4 addresses are their own key.
func limiterKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String()
	}
	p, err := addr.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

// throttleLogin applies the per-address limit to a sign-in attempt. When
// the address is over it, it answers 429 with Retry-After, audits
// "auth.throttled" and reports false; the caller must then stop.
func (h *Handler) throttleLogin(w http.ResponseWriter, r *http.Request) bool {
	ip := clientIP(r)
	ok, wait := h.loginLimit.allowRequest(r.Context(), limiterKey(ip))
	if ok {
		return true
	}
	secs := int((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	route := r.Pattern // set by the mux; empty only when called outside it
	if route == "" {
		route = "POST /login"
	}
	if h.audit != nil {
		// A specific event, so the route's generic "http.request" is not
		// recorded as well.
		if err := h.audit.RecordEvent(r.Context(), &credtrack.AuditEvent{Action: "auth.throttled", TargetType: "route",
			TargetID: route, Outcome: credtrack.OutcomeDenied,
			Details: map[string]string{"retry_after": strconv.Itoa(secs)}}); err != nil {
			h.logger.Error("audit of a throttled sign-in failed", "err", err)
		}
	}
	h.renderError(w, r, credtrack.Errorf(credtrack.ERATELIMIT,
		"Too many sign-in attempts from your network. Wait a minute and try again."))
	return false
}
