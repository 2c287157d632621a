package web

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"credtrack"
)

//go:embed templates
var templateFS embed.FS

// Page is the data the layout needs on every page. Each page's data
// struct embeds it, so a template can only reach fields its page provides
// and a typo is a parse or vet-time problem rather than an empty string.
type Page struct {
	// Title is the page's own title; the layout appends " · credtrack".
	Title string
	// Nav is the top navigation: only routes that exist and that the
	// actor may open.
	Nav []NavLink
	// Actor is who is looking; anonymous on the sign-in pages.
	Actor credtrack.Actor
	// Email and UserName identify the signed-in user; "" when anonymous.
	Email    string
	UserName string
	// CurrentOrg is the name of the organization the actor acts in.
	CurrentOrg string
	// Memberships fill the (not yet active) organization switcher.
	Memberships []*credtrack.Membership
	// Flash holds one-time messages such as "You are signed out."
	Flash []Flash
	// CSS is the content-hashed URL of the style sheet.
	CSS string
	// Version is credtrack's release version, shown in the footer.
	Version string
}

// SignedIn reports whether the page is shown to a signed-in user.
func (p Page) SignedIn() bool { return p.Actor.Kind != credtrack.ActorAnonymous }

// Flash is a one-time message shown at the top of a page.
type Flash struct {
	// Kind is "info" or "error"; it selects the colour.
	Kind string
	// Text is the message, a fixed string chosen by the server.
	Text string
}

// NavLink is one entry of the top navigation.
type NavLink struct {
	// Href is the link target, always a registered route.
	Href string
	// Label is the link text.
	Label string
	// Current marks the section the page belongs to (aria-current).
	Current bool
}

// pageNames are the templates in templates/pages; New checks that each
// exists so a renamed file fails at boot, not on the first request.
var pageNames = []string{"dashboard", "login", "set_password", "providers", "provider", "error", "audit", "record_reads",
	"password_forgot", "password_reset", "account", "account_password", "account_sessions",
	"verifications", "verification", "verification_manual", "verification_sources", "verification_tasks", "roster", "roster_import"}

// renderer holds one parsed template set per page: the layout and
// partials plus that page's own file, so each page can define "content"
// without clashing with the others.
type renderer struct {
	pages map[string]*template.Template
}

// newRenderer parses every template in fsys (templateFS outside tests)
// once. It panics on any error: a broken template must stop the boot.
func newRenderer(fsys fs.FS, funcs template.FuncMap) *renderer {
	base := template.Must(template.New("").Funcs(funcs).ParseFS(fsys,
		"templates/layout/*.html", "templates/partials/*.html"))
	files, err := fs.Glob(fsys, "templates/pages/*.html")
	if err != nil {
		panic("web: list page templates: " + err.Error())
	}
	rd := &renderer{pages: make(map[string]*template.Template, len(files))}
	for _, f := range files {
		t := template.Must(template.Must(base.Clone()).ParseFS(fsys, f))
		rd.pages[strings.TrimSuffix(path.Base(f), ".html")] = t
	}
	for _, name := range pageNames {
		if rd.pages[name] == nil {
			panic("web: missing page template " + name)
		}
	}
	return rd
}

// funcs are the template functions. They only format; anything that
// needs data is computed by the handler into the page struct.
func (h *Handler) funcs() template.FuncMap {
	return template.FuncMap{
		"asset":        h.assets.url,
		"statusLabel":  statusLabel,
		"date":         formatDate,
		"resultLabel":  func(s string) string { return credtrack.VerificationResult(s).Label() },
		"rosterColumn": rosterErrorColumn,
		"revealArgs":   func(id, field string) struct{ ID, Field string } { return struct{ ID, Field string }{id, field} },
	}
}

// newPage fills the layout data from the request context. It consumes
// the flash cookie, so call it once per rendered page.
func (h *Handler) newPage(w http.ResponseWriter, r *http.Request, title, current string) Page {
	a := credtrack.ActorFromContext(r.Context())
	p := Page{
		Title:   title,
		Actor:   a,
		Flash:   h.takeFlash(w, r),
		CSS:     h.assets.mustURL("app.css"),
		Version: credtrack.Version,
	}
	if s := sessionFromContext(r.Context()); s != nil {
		if s.user != nil {
			p.Email, p.UserName = s.user.Email, s.user.Name
		}
		p.Memberships = s.memberships
		for _, m := range s.memberships {
			if m.OrgID == a.OrgID {
				p.CurrentOrg = m.OrgName
			}
		}
		p.Nav = append(p.Nav, NavLink{Href: "/", Label: "Dashboard", Current: current == "dashboard"})
		if a.Can(credtrack.PermProviderRead) {
			p.Nav = append(p.Nav, NavLink{Href: "/providers", Label: "Providers", Current: current == "providers"})
		} else if a.Can(credtrack.PermOwnRecordRead) {
			p.Nav = append(p.Nav, NavLink{Href: "/my-record", Label: "My record", Current: current == "providers"})
		}
		if h.verifier != nil && a.Can(credtrack.PermProviderRead) {
			p.Nav = append(p.Nav, NavLink{Href: "/verification/tasks", Label: "Verification", Current: current == "verification"})
		}
		if h.rosterJobs != nil && a.Can(credtrack.PermExportCreate) {
			p.Nav = append(p.Nav, NavLink{Href: "/roster", Label: "Roster", Current: current == "roster"})
		}
		if h.documents != nil && h.records != nil && a.Can(credtrack.PermDocumentRead) {
			p.Nav = append(p.Nav, NavLink{Href: "/documents/verify", Label: "Verify a document", Current: current == "verify"})
		}
		if h.screening != nil && a.Can(credtrack.PermProviderRead) {
			p.Nav = append(p.Nav, NavLink{Href: "/screening", Label: "Screening", Current: current == "screening"})
		}
		if h.screening != nil && a.Can(credtrack.PermOrgRead) {
			p.Nav = append(p.Nav, NavLink{Href: "/alerts", Label: h.alertBadge(r.Context()), Current: current == "alerts"})
		}
		if h.auditLog != nil && a.Can(credtrack.PermAuditRead) {
			p.Nav = append(p.Nav, NavLink{Href: "/audit", Label: "Audit log", Current: current == "audit"})
		}
		if href := orgManager(a); h.admin != nil && href != "" {
			p.Nav = append(p.Nav, NavLink{Href: href, Label: "Organization", Current: current == "org"})
		}
		p.Nav = append(p.Nav, NavLink{Href: "/account", Label: "Account", Current: current == "account"})
		// Until signing in is finished (address verified, TOTP passed or
		// enrolled), every page but the one that finishes it redirects:
		// links would only lead back here.
		if a.Stage != credtrack.StageReady {
			p.Nav = nil
		}
	}
	return p
}

// render executes a page into a buffer first, so that a template error
// becomes a clean 500 instead of half a page with a 200 status.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	t := h.pages.pages[name]
	var buf bytes.Buffer
	var err error
	if t == nil {
		err = credtrack.Errorf(credtrack.EINTERNAL, "no page template %q", name)
	} else {
		err = t.ExecuteTemplate(&buf, "layout", data)
	}
	if err != nil {
		h.logger.ErrorContext(r.Context(), "web: render page", "page", name, "err", err,
			"request_id", w.Header().Get("X-Request-ID"))
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("Internal error.\n"))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// statusLabel names a provider or credential status for people.
func statusLabel(s string) string {
	switch s {
	case "compliant":
		return "Compliant"
	case "active":
		return "Active"
	case "expiring":
		return "Expiring"
	case "expired":
		return "Expired"
	case "missing":
		return "Missing"
	case "pending":
		return "Pending verification"
	case "inactive":
		return "Inactive"
	}
	return s
}

// formatDate shows a date as YYYY-MM-DD, or a dash when it is not set.
// ISO dates sort and compare at a glance in a column, whatever the locale.
func formatDate(d credtrack.Date) string {
	if d.IsZero() {
		return "—"
	}
	return d.String()
}
