package web

import (
	"net/http"
	"strings"
	"unicode"

	"credtrack"
)

// handleProviderSearch answers the provider list's search box, which
// posts so that a number typed into it never appears in a URL (address
// bar, history, Referer, access and proxy logs). What was typed decides
// the search:
//
//   - an NPI (10 digits with a valid check digit; spaces and dashes
//     ignored) finds the provider with that NPI;
//   - a DEA number (2 letters and 7 digits with a valid check digit)
//     finds the holder of that registration;
//   - anything else with a digit in it finds providers whose name
//     contains it or who hold a state license with exactly that number;
//   - anything without a digit is a name, and the browser is sent on to
//     the ordinary list URL (?q=name), which pages and can be bookmarked.
//
// Number results are rendered in the answer to the POST (not redirected,
// not paged) and the page shows only a masked description of what was
// searched. The store audits the search as "provider.listed" with the
// kind of lookup and never the number.
func (h *Handler) handleProviderSearch(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "The search form could not be read."))
		return
	}
	f, _, err := parseProviderFilters(r.PostForm)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	f.Offset = 0
	if len(f.Query) > 200 {
		h.renderError(w, r, credtrack.Errorf(credtrack.EINVALID, "The search is limited to 200 characters."))
		return
	}
	searchedBy := classifySearch(&f)
	if searchedBy == "" {
		http.Redirect(w, r, pageURL(f, 1), http.StatusSeeOther)
		return
	}
	// A number search answers a POST; the browser must not keep it.
	w.Header().Set("Cache-Control", "no-store")
	h.renderProviderList(w, r, f, 1, searchedBy)
}

// classifySearch turns the search box's text (f.Query) into an NPI, DEA
// or name-or-license lookup and returns a masked description of it, or ""
// when the text is a plain name search (no digit in it).
func classifySearch(f *credtrack.ProviderFilter) string {
	q := f.Query
	if !strings.ContainsFunc(q, unicode.IsDigit) {
		return ""
	}
	compact := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '-' {
			return -1
		}
		return r
	}, q)
	switch {
	case credtrack.ValidNPI(compact):
		f.Query, f.NPI = "", compact
		return ending("NPI", compact)
	case credtrack.ValidDEA(strings.Join(strings.Fields(q), "")):
		dea := credtrack.NormalizeDEA(strings.Join(strings.Fields(q), ""))
		f.Query, f.DEA = "", dea
		return ending("DEA number", dea)
	}
	f.QueryOrLicense = true
	return ending("name or license number", strings.TrimSpace(q))
}

// ending describes a searched number by its last four characters, as
// the list shows numbers; a short one is not shown at all.
func ending(kind, number string) string {
	if l := credtrack.Last4(number); l != "" {
		return kind + " ending " + l
	}
	return kind
}
