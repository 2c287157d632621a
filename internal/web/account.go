package web

import (
	"net/http"
	"strings"
	"time"

	"credtrack"
)

// The flash codes of the account pages. They are added to flashes here,
// next to the handlers that set them; only the codes travel in the cookie.
func init() {
	flashes["password-reset"] = Flash{Kind: "info", Text: "Your password was changed and every session was signed out. Sign in with the new password."}
	flashes["password-changed"] = Flash{Kind: "info", Text: "Your password was changed. Your other sessions were signed out."}
	flashes["session-revoked"] = Flash{Kind: "info", Text: "The session was signed out."}
	flashes["sessions-revoked"] = Flash{Kind: "info", Text: "Your other sessions were signed out."}
}

// resetSent is the one answer to a reset request, whether or not the
// address has an account, so the form cannot be used to find accounts.
const resetSent = "If an account exists for that address, we sent it a link to reset the password. The link works once, for 60 minutes."

// forgotPage is the data of templates/pages/password_forgot.html.
type forgotPage struct {
	Page
	Sent bool
}

// resetPage is the data of templates/pages/password_reset.html.
type resetPage struct {
	Page
	Token string
}

// accountPage is the data of templates/pages/account.html and
// account_password.html.
type accountPage struct {
	Page
}

// sessionRow is one line of the sessions table.
type sessionRow struct {
	ID        string
	Device    string
	IP        string
	CreatedAt string
	LastSeen  string
	Current   bool
}

// sessionsPage is the data of templates/pages/account_sessions.html.
type sessionsPage struct {
	Page
	Rows   []sessionRow
	Others bool // whether any session other than the current one exists
}

// handleForgotForm shows the "forgot your password" form.
func (h *Handler) handleForgotForm(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "password_forgot", forgotPage{Page: h.newPage(w, r, "Reset your password", "")})
}

// handleForgot asks Auth to email a reset link and always shows the same
// page.
func (h *Handler) handleForgot(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	if err := h.auth.RequestPasswordReset(r.Context(), strings.TrimSpace(r.PostForm.Get("email"))); err != nil {
		// Only outages reach here: Auth answers nil for unknown addresses.
		h.renderError(w, r, err)
		return
	}
	p := forgotPage{Page: h.newPage(w, r, "Reset your password", ""), Sent: true}
	p.Flash = append(p.Flash, Flash{Kind: "info", Text: resetSent})
	h.render(w, r, http.StatusOK, "password_forgot", p)
}

// handleResetForm shows the new-password form behind an emailed reset
// link. The token moves from the query string into a hidden field.
func (h *Handler) handleResetForm(w http.ResponseWriter, r *http.Request) {
	// The page's URL holds the token: no Referer may carry it anywhere.
	w.Header().Set("Referrer-Policy", "no-referrer")
	token := r.URL.Query().Get("token")
	if token == "" {
		h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "This link is incomplete. Open the link from your email again."))
		return
	}
	h.render(w, r, http.StatusOK, "password_reset", resetPage{Page: h.newPage(w, r, "Choose a new password", ""), Token: token})
}

// handleReset consumes the reset link and sets the new password.
func (h *Handler) handleReset(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	token := r.PostForm.Get("token")
	pw, confirm := r.PostForm.Get("password"), r.PostForm.Get("confirm")
	retry := func(msg string) {
		p := resetPage{Page: h.newPage(w, r, "Choose a new password", ""), Token: token}
		p.Flash = append(p.Flash, Flash{Kind: "error", Text: msg})
		h.render(w, r, http.StatusBadRequest, "password_reset", p)
	}
	if pw != confirm {
		retry("The two passwords do not match.")
		return
	}
	if err := h.auth.ResetPassword(r.Context(), token, pw); err != nil {
		if credtrack.ErrorCode(err) == credtrack.EINVALID {
			// A weak password or a dead link: the message says which, and
			// names no account.
			retry(credtrack.ErrorMessage(err))
			return
		}
		h.renderError(w, r, err)
		return
	}
	// A reset ends every session of the account, this browser's too.
	h.clearSessionCookie(w)
	h.setFlash(w, "password-reset")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// handleAccount is the account settings landing page.
func (h *Handler) handleAccount(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "account", accountPage{Page: h.newPage(w, r, "Your account", "account")})
}

// handleSessions lists the user's active sessions.
func (h *Handler) handleSessions(w http.ResponseWriter, r *http.Request) {
	s := sessionFromContext(r.Context())
	list, currentID, err := h.auth.Sessions(r.Context(), s.token)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	p := sessionsPage{Page: h.newPage(w, r, "Active sessions", "account")}
	for _, x := range list {
		row := sessionRow{ID: x.ID, Device: shortAgent(x.UserAgent), IP: x.IP, CreatedAt: stamp(x.CreatedAt),
			LastSeen: stamp(x.LastSeenAt), Current: x.ID == currentID}
		if row.IP == "" {
			row.IP = "—"
		}
		p.Others = p.Others || !row.Current
		p.Rows = append(p.Rows, row)
	}
	h.render(w, r, http.StatusOK, "account_sessions", p)
}

// handleRevokeSession signs one session out. Revoking the current one
// signs this browser out, like the Sign out button.
func (h *Handler) handleRevokeSession(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	s := sessionFromContext(r.Context())
	_, currentID, err := h.auth.Sessions(r.Context(), s.token)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	id := r.PathValue("id")
	if err := h.auth.RevokeSession(r.Context(), s.token, id); err != nil {
		h.renderError(w, r, err)
		return
	}
	if id == currentID {
		h.clearSessionCookie(w)
		h.setFlash(w, "signed-out")
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	h.setFlash(w, "session-revoked")
	http.Redirect(w, r, "/account/sessions", http.StatusSeeOther)
}

// handleRevokeOthers signs out every session but this one.
func (h *Handler) handleRevokeOthers(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	s := sessionFromContext(r.Context())
	if _, err := h.auth.RevokeOtherSessions(r.Context(), s.token); err != nil {
		h.renderError(w, r, err)
		return
	}
	h.setFlash(w, "sessions-revoked")
	http.Redirect(w, r, "/account/sessions", http.StatusSeeOther)
}

// handlePasswordForm shows the change-password form.
func (h *Handler) handlePasswordForm(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "account_password", accountPage{Page: h.newPage(w, r, "Change your password", "account")})
}

// handlePassword changes the password. The current session gets a new
// token (set as the cookie here), so a token captured earlier is useless.
func (h *Handler) handlePassword(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	current, pw, confirm := r.PostForm.Get("current"), r.PostForm.Get("password"), r.PostForm.Get("confirm")
	retry := func(msg string) {
		p := accountPage{Page: h.newPage(w, r, "Change your password", "account")}
		p.Flash = append(p.Flash, Flash{Kind: "error", Text: msg})
		h.render(w, r, http.StatusBadRequest, "account_password", p)
	}
	if pw != confirm {
		retry("The two new passwords do not match.")
		return
	}
	s := sessionFromContext(r.Context())
	token, err := h.auth.ChangePassword(r.Context(), s.token, current, pw)
	if err != nil {
		if credtrack.ErrorCode(err) == credtrack.EINVALID {
			retry(credtrack.ErrorMessage(err))
			return
		}
		h.renderError(w, r, err)
		return
	}
	h.setSessionCookie(w, token)
	h.setFlash(w, "password-changed")
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

// stamp formats a session time in UTC to the minute.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// shortAgent names the browser and system of a user agent string well
// enough to recognize a device, without showing the whole string.
func shortAgent(ua string) string {
	if ua == "" {
		return "Unknown device"
	}
	browser := ""
	for _, b := range []struct{ key, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chrome/", "Chrome"},
		{"Safari/", "Safari"}, {"curl/", "curl"},
	} {
		if strings.Contains(ua, b.key) {
			browser = b.name
			break
		}
	}
	system := ""
	for _, o := range []struct{ key, name string }{
		{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.key) {
			system = o.name
			break
		}
	}
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return system
	}
	if r := []rune(ua); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return ua
}
