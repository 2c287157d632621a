package server

import (
	"net/http"
	"strconv"
	"time"
)

// ContentSecurityPolicy is sent with every response. It allows only
// same-origin scripts, style sheets and images and nothing inline (no
// 'unsafe-inline', no 'unsafe-eval'), so injected markup can neither run
// nor restyle anything; form-action keeps forms posting to us,
// frame-ancestors 'none' stops clickjacking and base-uri 'none' stops a
// planted <base> from redirecting relative URLs. The web package sends the
// same policy on its pages.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// SecurityHeaders sets the headers every credtrack response carries,
// before next runs, so that redirects, errors, 404s and 405s get them too:
//
//   - Content-Security-Policy (above) and X-Frame-Options DENY for
//     browsers without frame-ancestors;
//   - X-Content-Type-Options nosniff, so nothing is run as a type it was
//     not served as;
//   - Referrer-Policy no-referrer: no URL of ours (they hold record IDs,
//     and links hold tokens) leaves in a Referer header. The web pages
//     relax it to same-origin except on pages reached with a token;
//   - Cache-Control no-store: responses of an authenticated site must not
//     be kept by browsers or proxies. Handlers of public, versioned
//     content (static assets) replace it;
//   - Cross-Origin-Opener-Policy and Cross-Origin-Resource-Policy
//     same-origin, which isolate the pages from other sites' windows and
//     keep other sites from embedding our responses;
//   - Strict-Transport-Security with hstsMaxAge on responses sent over
//     TLS (never over plain HTTP, where browsers ignore it anyway);
//     0 leaves it out. Behind a TLS-terminating proxy, the proxy sets it.
//
// Handlers may override any of them by setting the header themselves.
func SecurityHeaders(next http.Handler, hstsMaxAge time.Duration) http.Handler {
	hsts := ""
	if hstsMaxAge > 0 {
		hsts = "max-age=" + strconv.FormatInt(int64(hstsMaxAge/time.Second), 10)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if hsts != "" && r.TLS != nil {
			h.Set("Strict-Transport-Security", hsts)
		}
		next.ServeHTTP(w, r)
	})
}
