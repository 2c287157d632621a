package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"credtrack"
	"credtrack/internal/auth"

	"golang.org/x/time/rate"
)

// MFA is TOTP: the sign-in prompt, enrolment, recovery codes and trusted
// devices. *auth.Service implements it.
type MFA interface {
	// LoginWithDevice is Auth.Login for a browser that presents a trusted
	// device token ("" for none); a valid one skips the TOTP prompt.
	LoginWithDevice(ctx context.Context, email, password, deviceToken string) (token string, err error)
	// BeginEnrol creates a new pending TOTP seed for the session's user;
	// ECONFLICT when TOTP is in force.
	BeginEnrol(ctx context.Context, token string) (*auth.Enrolment, error)
	// PendingEnrol returns the pending seed without changing anything;
	// ENOTFOUND when there is none.
	PendingEnrol(ctx context.Context, token string) (*auth.Enrolment, error)
	// EnrolQR returns the pending seed as a PNG QR code.
	EnrolQR(ctx context.Context, token string) ([]byte, error)
	// ConfirmEnrol puts TOTP in force with a code and returns the
	// session's new token and the recovery codes to show once.
	ConfirmEnrol(ctx context.Context, token, code string) (newToken string, recoveryCodes []string, err error)
	// VerifyMFA passes the sign-in prompt with a TOTP or recovery code and
	// returns the session's new token and, when asked, a device token.
	VerifyMFA(ctx context.Context, token, code string, recovery, trustDevice bool, deviceName string) (*auth.MFAOutcome, error)
	// MFAStatus returns the TOTP state of the session's user.
	MFAStatus(ctx context.Context, token string) (*credtrack.MFAStatus, error)
	// DisableMFA turns TOTP off (or resets it, with replace) given the
	// password and a code.
	DisableMFA(ctx context.Context, token, password, code string, replace bool) error
	// RegenerateRecoveryCodes issues new recovery codes given a code.
	RegenerateRecoveryCodes(ctx context.Context, token, code string) ([]string, error)
	// TrustedDevices lists the trusted devices of the session's user.
	TrustedDevices(ctx context.Context, token string) ([]*credtrack.TrustedDevice, error)
	// RevokeTrustedDevice ends one; another user's gives ENOTFOUND.
	RevokeTrustedDevice(ctx context.Context, token, id string) error
	// RevokeTrustedDevices ends them all.
	RevokeTrustedDevices(ctx context.Context, token string) (int, error)
}

// The per-address throttle of POST /login/mfa (SECURITY.md §1.1: 10 a
// minute, as for POST /login). It only slows one network down; the
// per-account lockout, which wrong codes count towards, is the real limit.
const (
	mfaRate  = rate.Limit(10.0 / 60)
	mfaBurst = 10
)

func newMFALimiter() *ipLimiter { return newIPLimiter(mfaRate, mfaBurst) }

func init() {
	pageNames = append(pageNames, "mfa_prompt", "mfa_enrol", "mfa_recovery", "account_mfa", "account_devices")
	flashes["mfa-disabled"] = Flash{Kind: "info", Text: "Two-step verification is off. Your other sessions were signed out."}
	flashes["mfa-reset"] = Flash{Kind: "info", Text: "Your authenticator was removed. Set up the new one now."}
	flashes["device-revoked"] = Flash{Kind: "info", Text: "The device is no longer trusted."}
	flashes["devices-revoked"] = Flash{Kind: "info", Text: "No device is trusted any more."}
}

// mfaPromptPage is the data of templates/pages/mfa_prompt.html.
type mfaPromptPage struct {
	Page
	// DemoCode is the current code of a demo account, shown only by
	// `credtrack demo` ("" otherwise).
	DemoCode string
	// Recovery shows the recovery-code form instead of the TOTP one.
	Recovery bool
}

// mfaEnrolPage is the data of templates/pages/mfa_enrol.html.
type mfaEnrolPage struct {
	Page
	Secret string // the seed in base32, for typing in by hand
	URL    string // the otpauth:// URI, for copying into a password manager
}

// mfaRecoveryPage is the data of templates/pages/mfa_recovery.html.
type mfaRecoveryPage struct {
	Page
	Codes []string
}

// accountMFAPage is the data of templates/pages/account_mfa.html.
type accountMFAPage struct {
	Page
	Enabled   bool
	EnabledAt string
	CodesLeft int
	Required  bool
}

// deviceRow is one line of the trusted devices table.
type deviceRow struct {
	ID, Name, IP, FirstSeen, LastSeen, Expires string
}

// accountDevicesPage is the data of templates/pages/account_devices.html.
type accountDevicesPage struct {
	Page
	Rows []deviceRow
}

// deviceCookieName is "__Host-credtrack_device" on HTTPS, with the same
// rule as the session cookie.
func (h *Handler) deviceCookieName() string {
	if h.secureCookies {
		return "__Host-credtrack_device"
	}
	return "credtrack_device"
}

// deviceToken returns the trusted device token the browser presents.
func (h *Handler) deviceToken(r *http.Request) string {
	if c, err := r.Cookie(h.deviceCookieName()); err == nil {
		return c.Value
	}
	return ""
}

// setDeviceCookie stores a trusted device token for ttl. Unlike the
// session cookie it outlives the browser session: that is its purpose.
func (h *Handler) setDeviceCookie(w http.ResponseWriter, token string, ttl time.Duration) {
	c := h.cookie(h.deviceCookieName(), token)
	c.MaxAge = int(ttl / time.Second)
	http.SetCookie(w, c)
}

// noMFA answers when the server has no MFA service.
func (h *Handler) noMFA(w http.ResponseWriter, r *http.Request) bool {
	if h.mfa != nil {
		return false
	}
	h.renderError(w, r, credtrack.Errorf(credtrack.EUNAVAILABLE, "Two-step verification is not available on this server."))
	return true
}

// throttleMFA applies the per-address limit to POST /login/mfa, like
// throttleLogin: 429 with Retry-After and an "auth.throttled" event.
func (h *Handler) throttleMFA(w http.ResponseWriter, r *http.Request) bool {
	ok, wait := h.mfaLimit.allowRequest(r.Context(), limiterKey(clientIP(r)))
	if ok {
		return true
	}
	secs := max(int((wait+time.Second-1)/time.Second), 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	if h.audit != nil {
		if err := h.audit.RecordEvent(r.Context(), &credtrack.AuditEvent{Action: "auth.throttled", TargetType: "route",
			TargetID: "POST /login/mfa", Outcome: credtrack.OutcomeDenied,
			Details: map[string]string{"retry_after": strconv.Itoa(secs)}}); err != nil {
			h.logger.Error("audit of a throttled code check failed", "err", err)
		}
	}
	h.renderError(w, r, credtrack.Errorf(credtrack.ERATELIMIT, "Too many attempts from your network. Wait a minute and try again."))
	return false
}

// promptPage builds the prompt page, with the demo code when enabled.
func (h *Handler) promptPage(w http.ResponseWriter, r *http.Request, recovery bool) mfaPromptPage {
	p := mfaPromptPage{Page: h.newPage(w, r, "Two-step verification", ""), Recovery: recovery}
	if s := sessionFromContext(r.Context()); h.demoCode != nil && s != nil && s.user != nil {
		p.DemoCode, _ = h.demoCode(s.user.Email)
	}
	return p
}

// handleMFAPrompt shows the TOTP prompt of a signed-in session that has
// not passed it yet.
func (h *Handler) handleMFAPrompt(w http.ResponseWriter, r *http.Request) {
	if h.noMFA(w, r) {
		return
	}
	if credtrack.ActorFromContext(r.Context()).Stage != credtrack.StageMFA {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "mfa_prompt", h.promptPage(w, r, r.URL.Query().Get("recovery") == "1"))
}

// handleMFAVerify checks a TOTP or recovery code. On success the session
// gets a new token (the cookie is replaced) and, when asked, the browser
// gets a trusted device cookie.
func (h *Handler) handleMFAVerify(w http.ResponseWriter, r *http.Request) {
	if h.noMFA(w, r) || !h.throttleMFA(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	if credtrack.ActorFromContext(r.Context()).Stage != credtrack.StageMFA {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s := sessionFromContext(r.Context())
	recovery := r.PostForm.Get("recovery") == "1"
	code := r.PostForm.Get("code")
	trust := r.PostForm.Get("trust") == "1"
	out, err := h.mfa.VerifyMFA(r.Context(), s.token, code, recovery, trust, shortAgent(r.UserAgent()))
	if err != nil {
		switch credtrack.ErrorCode(err) {
		case credtrack.EINVALID, credtrack.EUNAUTHORIZED:
			p := h.promptPage(w, r, recovery)
			p.Flash = append(p.Flash, Flash{Kind: "error", Text: credtrack.ErrorMessage(err)})
			h.render(w, r, http.StatusUnauthorized, "mfa_prompt", p)
		default:
			h.renderError(w, r, err)
		}
		return
	}
	h.setSessionCookie(w, out.Token)
	if out.DeviceToken != "" {
		h.setDeviceCookie(w, out.DeviceToken, out.DeviceTTL)
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// handleMFAEnrolForm shows the enrolment page: the QR code (an image
// served by handleMFAQR, since the CSP allows no data: URLs) and the seed
// as text for typing in by hand. Before a seed exists it offers a button
// that creates one: a GET changes nothing.
func (h *Handler) handleMFAEnrolForm(w http.ResponseWriter, r *http.Request) {
	if h.noMFA(w, r) {
		return
	}
	s := sessionFromContext(r.Context())
	p := mfaEnrolPage{Page: h.newPage(w, r, "Set up two-step verification", "account")}
	e, err := h.mfa.PendingEnrol(r.Context(), s.token)
	switch credtrack.ErrorCode(err) {
	case "":
		p.Secret, p.URL = e.Secret, e.URL
	case credtrack.ENOTFOUND:
	case credtrack.ECONFLICT:
		http.Redirect(w, r, "/account/mfa", http.StatusSeeOther)
		return
	default:
		h.renderError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "mfa_enrol", p)
}

// handleMFAEnrolStart creates a new pending seed and shows it.
func (h *Handler) handleMFAEnrolStart(w http.ResponseWriter, r *http.Request) {
	if h.noMFA(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	s := sessionFromContext(r.Context())
	if _, err := h.mfa.BeginEnrol(r.Context(), s.token); err != nil {
		if credtrack.ErrorCode(err) == credtrack.ECONFLICT {
			http.Redirect(w, r, "/account/mfa", http.StatusSeeOther)
			return
		}
		h.renderError(w, r, err)
		return
	}
	http.Redirect(w, r, "/account/mfa/enrol", http.StatusSeeOther)
}

// handleMFAQR serves the pending seed's QR code. The response is no-store
// (set for every response in ServeHTTP): it carries the seed.
func (h *Handler) handleMFAQR(w http.ResponseWriter, r *http.Request) {
	if h.noMFA(w, r) {
		return
	}
	s := sessionFromContext(r.Context())
	png, err := h.mfa.EnrolQR(r.Context(), s.token)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(len(png)))
	_, _ = w.Write(png)
}

// handleMFAEnrol confirms the enrolment with a code and shows the
// recovery codes, once.
func (h *Handler) handleMFAEnrol(w http.ResponseWriter, r *http.Request) {
	if h.noMFA(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	s := sessionFromContext(r.Context())
	token, codes, err := h.mfa.ConfirmEnrol(r.Context(), s.token, r.PostForm.Get("code"))
	if err != nil {
		if credtrack.ErrorCode(err) == credtrack.EINVALID {
			e, berr := h.mfa.PendingEnrol(r.Context(), s.token)
			if berr != nil {
				h.renderError(w, r, berr)
				return
			}
			p := mfaEnrolPage{Page: h.newPage(w, r, "Set up two-step verification", "account"), Secret: e.Secret, URL: e.URL}
			p.Flash = append(p.Flash, Flash{Kind: "error", Text: credtrack.ErrorMessage(err)})
			h.render(w, r, http.StatusBadRequest, "mfa_enrol", p)
			return
		}
		h.renderError(w, r, err)
		return
	}
	h.setSessionCookie(w, token)
	p := mfaRecoveryPage{Page: h.newPage(w, r, "Your recovery codes", "account"), Codes: codes}
	p.Flash = append(p.Flash, Flash{Kind: "info", Text: "Two-step verification is on. Your other sessions were signed out."})
	h.render(w, r, http.StatusOK, "mfa_recovery", p)
}

// handleAccountMFA shows the TOTP status with its actions.
func (h *Handler) handleAccountMFA(w http.ResponseWriter, r *http.Request) {
	if h.noMFA(w, r) {
		return
	}
	h.renderAccountMFA(w, r, http.StatusOK, "")
}

func (h *Handler) renderAccountMFA(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s := sessionFromContext(r.Context())
	st, err := h.mfa.MFAStatus(r.Context(), s.token)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	p := accountMFAPage{Page: h.newPage(w, r, "Two-step verification", "account"), Enabled: !st.EnabledAt.IsZero(),
		EnabledAt: stamp(st.EnabledAt), CodesLeft: st.RecoveryCodesLeft, Required: st.Required}
	if msg != "" {
		p.Flash = append(p.Flash, Flash{Kind: "error", Text: msg})
	}
	h.render(w, r, status, "account_mfa", p)
}

// handleRecoveryCodes issues new recovery codes, given a TOTP code.
func (h *Handler) handleRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	if h.noMFA(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	s := sessionFromContext(r.Context())
	codes, err := h.mfa.RegenerateRecoveryCodes(r.Context(), s.token, r.PostForm.Get("code"))
	if err != nil {
		if c := credtrack.ErrorCode(err); c == credtrack.EINVALID || c == credtrack.EUNAUTHORIZED {
			h.renderAccountMFA(w, r, http.StatusBadRequest, credtrack.ErrorMessage(err))
			return
		}
		h.renderError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "mfa_recovery", mfaRecoveryPage{Page: h.newPage(w, r, "Your recovery codes", "account"), Codes: codes})
}

// handleMFADisable turns TOTP off, or resets it (replace=1) so a new
// authenticator is enrolled at once.
func (h *Handler) handleMFADisable(w http.ResponseWriter, r *http.Request) {
	if h.noMFA(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	s := sessionFromContext(r.Context())
	replace := r.PostForm.Get("replace") == "1"
	err := h.mfa.DisableMFA(r.Context(), s.token, r.PostForm.Get("password"), r.PostForm.Get("code"), replace)
	if err != nil {
		switch credtrack.ErrorCode(err) {
		case credtrack.EINVALID, credtrack.EUNAUTHORIZED, credtrack.EFORBIDDEN:
			h.renderAccountMFA(w, r, http.StatusBadRequest, credtrack.ErrorMessage(err))
		default:
			h.renderError(w, r, err)
		}
		return
	}
	if replace {
		h.setFlash(w, "mfa-reset")
		http.Redirect(w, r, "/account/mfa/enrol", http.StatusSeeOther)
		return
	}
	h.setFlash(w, "mfa-disabled")
	http.Redirect(w, r, "/account/mfa", http.StatusSeeOther)
}

// handleDevices lists the user's trusted devices.
func (h *Handler) handleDevices(w http.ResponseWriter, r *http.Request) {
	if h.noMFA(w, r) {
		return
	}
	s := sessionFromContext(r.Context())
	list, err := h.mfa.TrustedDevices(r.Context(), s.token)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	p := accountDevicesPage{Page: h.newPage(w, r, "Trusted devices", "account")}
	for _, d := range list {
		row := deviceRow{ID: d.ID, Name: d.Name, IP: d.IP, FirstSeen: stamp(d.CreatedAt), LastSeen: stamp(d.LastSeenAt),
			Expires: stamp(d.ExpiresAt)}
		if row.IP == "" {
			row.IP = "—"
		}
		if row.Name == "" {
			row.Name = "Unknown device"
		}
		p.Rows = append(p.Rows, row)
	}
	h.render(w, r, http.StatusOK, "account_devices", p)
}

// handleRevokeDevice ends one trusted device.
func (h *Handler) handleRevokeDevice(w http.ResponseWriter, r *http.Request) {
	if h.noMFA(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	s := sessionFromContext(r.Context())
	if err := h.mfa.RevokeTrustedDevice(r.Context(), s.token, r.PathValue("id")); err != nil {
		h.renderError(w, r, err)
		return
	}
	h.setFlash(w, "device-revoked")
	http.Redirect(w, r, "/account/devices", http.StatusSeeOther)
}

// handleRevokeDevices ends every trusted device of the user.
func (h *Handler) handleRevokeDevices(w http.ResponseWriter, r *http.Request) {
	if h.noMFA(w, r) {
		return
	}
	if err := parseForm(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	s := sessionFromContext(r.Context())
	if _, err := h.mfa.RevokeTrustedDevices(r.Context(), s.token); err != nil {
		h.renderError(w, r, err)
		return
	}
	h.setFlash(w, "devices-revoked")
	http.Redirect(w, r, "/account/devices", http.StatusSeeOther)
}
