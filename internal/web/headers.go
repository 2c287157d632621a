package web

// secretRoutes are the routes whose URL carries a one-time token (emailed
// links) or whose page shows a secret (a TOTP seed or its QR code,
// recovery codes, a new API token, the demo's current code). Their
// responses carry Referrer-Policy: no-referrer instead of same-origin, so
// that not even a same-origin link or asset request repeats the URL. The
// handlers of the emailed-link pages set it too; this table is what the
// header test in cmd/credtrack checks.
var secretRoutes = map[string]bool{
	"GET /set-password":                true,
	"POST /set-password":               true,
	"GET /password/reset":              true,
	"POST /password/reset":             true,
	"GET /verify-email/confirm":        true,
	"POST /verify-email/confirm":       true,
	"GET /invitations/accept":          true,
	"POST /invitations/accept":         true,
	"GET /login/mfa":                   true,
	"GET /account/mfa/enrol":           true,
	"POST /account/mfa/enrol/start":    true,
	"GET /account/mfa/qr.png":          true,
	"POST /account/mfa/enrol":          true,
	"POST /account/mfa/recovery-codes": true,
	"POST /org/tokens":                 true,
}

// SecretRoutes returns the patterns of secretRoutes, for tests.
func SecretRoutes() []string {
	out := make([]string, 0, len(secretRoutes))
	for p := range secretRoutes {
		out = append(out, p)
	}
	return out
}
