package web

import (
	"net/http"

	"credtrack"
)

// loginFailed is the one message for every failed sign-in. Saying which
// part was wrong, or that the account is locked, would tell an attacker
// which email addresses have accounts.
const loginFailed = "Email or password is wrong, or the account is locked."

// loginPage is the data of templates/pages/login.html.
type loginPage struct {
	Page
	Email string
}

// setPasswordPage is the data of templates/pages/set_password.html.
type setPasswordPage struct {
	Page
	Token string
}

// handleLoginForm shows the sign-in form, or sends a signed-in user home.
func (h *Handler) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	if sessionFromContext(r.Context()) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "login", loginPage{Page: h.newPage(w, r, "Sign in", "")})
}

// handleLogin checks the credentials and starts a session. Attempts are
// throttled per client address first, so a refused attempt costs no
// password hash and does not count against the account's lockout.
func (h *Handler) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !h.throttleLogin(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	email, password := r.PostForm.Get("email"), r.PostForm.Get("password")

	// Always call Login, even for empty fields, so every failure takes the
	// same path (and the same time, and the same audit event) in Auth.
	var token string
	var err error
	if h.mfa != nil {
		// A trusted device cookie lets a user with TOTP skip the prompt;
		// it is checked only after the password.
		token, err = h.mfa.LoginWithDevice(r.Context(), email, password, h.deviceToken(r))
	} else {
		token, err = h.auth.Login(r.Context(), email, password)
	}
	if err != nil {
		switch credtrack.ErrorCode(err) {
		case credtrack.EUNAUTHORIZED, credtrack.EINVALID, credtrack.ENOTFOUND, credtrack.EFORBIDDEN:
			p := loginPage{Page: h.newPage(w, r, "Sign in", ""), Email: email}
			p.Flash = append(p.Flash, Flash{Kind: "error", Text: loginFailed})
			h.render(w, r, http.StatusUnauthorized, "login", p)
		default:
			// Rate limits, outages and bugs show their own (safe) message.
			h.renderError(w, r, err)
		}
		return
	}

	// A session the browser held before signing in is ended, not reused:
	// the new token replaces it, so a planted cookie (session fixation)
	// is worthless after login.
	if old := sessionFromContext(r.Context()); old != nil {
		if err := h.auth.Logout(r.Context(), old.token); err != nil && credtrack.ErrorCode(err) != credtrack.EUNAUTHORIZED {
			h.logger.WarnContext(r.Context(), "web: end previous session", "err", err,
				"request_id", w.Header().Get("X-Request-ID"))
		}
	}
	h.setSessionCookie(w, token)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// handleLogout ends the session on the server and deletes the cookie.
func (h *Handler) handleLogout(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	// The cookie goes whatever happens next: the browser should stop
	// presenting it even if the server could not end the session.
	h.clearSessionCookie(w)
	if s := sessionFromContext(r.Context()); s != nil {
		if err := h.auth.Logout(r.Context(), s.token); err != nil && credtrack.ErrorCode(err) != credtrack.EUNAUTHORIZED {
			// Tell the user: a session still valid on the server is not
			// "signed out", and they may want to retry.
			h.renderError(w, r, err)
			return
		}
	}
	h.setFlash(w, "signed-out")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// handleSetPasswordForm shows the form behind an emailed or printed
// set-password link. The one-time token arrives in the query string (the
// accepted exception to "no secrets in URLs") and is moved into a hidden
// field so the POST that consumes it carries it in the body.
func (h *Handler) handleSetPasswordForm(w http.ResponseWriter, r *http.Request) {
	// The page's URL holds the token: no Referer may carry it to the
	// style sheet request or to any link the user follows from here.
	w.Header().Set("Referrer-Policy", "no-referrer")
	token := r.URL.Query().Get("token")
	if token == "" {
		h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "This link is incomplete. Open the link from your email again."))
		return
	}
	p := setPasswordPage{Page: h.newPage(w, r, "Set your password", ""), Token: token}
	h.render(w, r, http.StatusOK, "set_password", p)
}

// handleSetPassword consumes the link token and sets the password.
func (h *Handler) handleSetPassword(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	token := r.PostForm.Get("token")
	password, confirm := r.PostForm.Get("password"), r.PostForm.Get("confirm")
	if token == "" {
		h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "This link is incomplete. Open the link from your email again."))
		return
	}
	retry := func(status int, msg string) {
		p := setPasswordPage{Page: h.newPage(w, r, "Set your password", ""), Token: token}
		p.Flash = append(p.Flash, Flash{Kind: "error", Text: msg})
		h.render(w, r, status, "set_password", p)
	}
	// Matching the two fields is the form's job; the password rules
	// themselves belong to Auth.SetPassword, so they live in one place.
	if password != confirm {
		retry(http.StatusBadRequest, "The two passwords do not match.")
		return
	}
	if err := h.auth.SetPassword(r.Context(), token, password); err != nil {
		switch credtrack.ErrorCode(err) {
		case credtrack.EINVALID:
			retry(http.StatusBadRequest, credtrack.ErrorMessage(err))
		case credtrack.EUNAUTHORIZED, credtrack.ENOTFOUND:
			// One message for unknown, used and expired links alike.
			h.renderError(w, r, credtrack.Errorf(credtrack.EUNAUTHORIZED,
				"This link is invalid or has expired. Ask your administrator for a new one."))
		default:
			h.renderError(w, r, err)
		}
		return
	}
	// Setting a password ends every session of the account, so a cookie
	// this browser may hold is dead too.
	h.clearSessionCookie(w)
	h.setFlash(w, "password-set")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
