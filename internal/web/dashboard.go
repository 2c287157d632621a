package web

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"

	"credtrack"
)

// dashboardLimit is how many providers the dashboard summarizes. The store
// caps a page at 500; a larger organization sees a note that the counts
// are partial until the store offers aggregate counts.
const dashboardLimit = 500

// expiringHorizon is the furthest look-ahead of the "expiring" list, in days.
const expiringHorizon = 90

// expiringListSize is how many upcoming expiries the dashboard lists.
const expiringListSize = 10

// providerStatuses lists the overall statuses in the order the dashboard
// and the filters show them.
var providerStatuses = []credtrack.ProviderStatus{
	credtrack.ProviderCompliant, credtrack.ProviderExpiring, credtrack.ProviderExpired,
	credtrack.ProviderMissing, credtrack.ProviderPending, credtrack.ProviderInactive,
}

// statusCount is one dashboard tile.
type statusCount struct {
	Status string
	Count  int
}

// chartBar is one bar of the status chart, with its geometry computed
// here so the SVG needs no script and no inline style.
type chartBar struct {
	Status string
	Count  int
	Y      int // top of the row
	TextY  int // baseline of the label and count
	Width  int // bar length in chart units
	CountX int // where the count is written, just past the bar
}

// barChart is a horizontal bar chart drawn as server-side SVG.
type barChart struct {
	Width, Height int
	BarX, BarH    int
	Bars          []chartBar
}

// Geometry of the status chart, in SVG user units (it scales with CSS).
const (
	chartLabelW = 150
	chartBarMax = 380
	chartRowH   = 34
	chartBarH   = 22
)

// expiringRow is one upcoming expiry on the dashboard.
type expiringRow struct {
	ProviderID   string
	ProviderName string
	TypeLabel    string
	ExpiresOn    credtrack.Date
	DaysLeft     string
	// Bucket is 30, 60 or 90: the first window the expiry falls in,
	// which picks the badge colour.
	Bucket int
}

// dashboardStats is what the dashboard computes from the provider list.
type dashboardStats struct {
	Counts   map[credtrack.ProviderStatus]int
	Expiring []expiringRow // all upcoming expiries, soonest first
	Within   map[int]int   // 30, 60, 90 → credentials expiring within that many days
}

// dashboardPage is the data of templates/pages/dashboard.html.
type dashboardPage struct {
	Page
	// OrgView is true for roles that see the organization's figures;
	// a provider sees a link to their own record instead.
	OrgView  bool
	Tiles    []statusCount
	Chart    barChart
	Expiring []expiringRow
	Within30 int
	Within60 int
	Within90 int
	// Counted and Total tell whether the figures cover every provider.
	Counted int
	Total   int

	OwnProviderID   string
	OwnProviderName string
}

// handleDashboard shows the organization's compliance at a glance, or,
// for a provider, the way to their own record.
func (h *Handler) handleDashboard(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a := credtrack.ActorFromContext(ctx)
	ps, total, err := h.providers.FindProviders(ctx, credtrack.ProviderFilter{Limit: dashboardLimit})
	if !a.Can(credtrack.PermOrgRead) {
		h.ownDashboard(w, r, a, ps, err)
		return
	}
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	window, req, err := h.orgRules(r)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	st := summarizeWith(ps, h.today(), window, req)
	p := dashboardPage{
		Page:     h.newPage(w, r, "Dashboard", "dashboard"),
		OrgView:  true,
		Counted:  len(ps),
		Total:    total,
		Within30: st.Within[30],
		Within60: st.Within[60],
		Within90: st.Within[90],
		Expiring: st.Expiring[:min(len(st.Expiring), expiringListSize)],
	}
	for _, s := range providerStatuses {
		p.Tiles = append(p.Tiles, statusCount{Status: string(s), Count: st.Counts[s]})
	}
	p.Chart = newBarChart(p.Tiles)
	h.render(w, r, http.StatusOK, "dashboard", p)
}

// linkedRecord is the provider record among ps linked to the actor's
// account, or nil.
func linkedRecord(ps []*credtrack.Provider, a credtrack.Actor) *credtrack.Provider {
	if i := slices.IndexFunc(ps, func(p *credtrack.Provider) bool { return a.ID != "" && p.UserID == a.ID }); i >= 0 {
		return ps[i]
	}
	return nil
}

// handleMyRecord sends a provider to the record linked to their account,
// or to the dashboard, which explains that none is linked yet.
func (h *Handler) handleMyRecord(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a := credtrack.ActorFromContext(ctx)
	ps, _, err := h.providers.FindProviders(ctx, credtrack.ProviderFilter{Limit: dashboardLimit})
	switch credtrack.ErrorCode(err) {
	case "", credtrack.EFORBIDDEN, credtrack.ENOTFOUND:
	default:
		h.renderError(w, r, err)
		return
	}
	if own := linkedRecord(ps, a); err == nil && own != nil {
		http.Redirect(w, r, "/providers/"+url.PathEscape(own.ID), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// ownDashboard is the dashboard of a provider-role member: a link to the
// provider record linked to their account. The store decides which
// records the actor may list; we only pick the one linked to the user.
func (h *Handler) ownDashboard(w http.ResponseWriter, r *http.Request, a credtrack.Actor, ps []*credtrack.Provider, err error) {
	switch credtrack.ErrorCode(err) {
	case "":
	case credtrack.EFORBIDDEN, credtrack.ENOTFOUND:
		ps = nil // nothing listable: show "no linked record"
	default:
		h.renderError(w, r, err)
		return
	}
	p := dashboardPage{Page: h.newPage(w, r, "Dashboard", "dashboard")}
	if own := linkedRecord(ps, a); own != nil {
		p.OwnProviderID, p.OwnProviderName = own.ID, own.FullName()
	}
	h.render(w, r, http.StatusOK, "dashboard", p)
}

// summarize counts providers by overall status and collects the
// credentials of active providers that expire within expiringHorizon days.
func summarize(ps []*credtrack.Provider, today credtrack.Date, window int) dashboardStats {
	return summarizeWith(ps, today, window, nil)
}

// summarizeWith is summarize with the organization's required-credential set.
func summarizeWith(ps []*credtrack.Provider, today credtrack.Date, window int, req credtrack.RequiredCredentialSet) dashboardStats {
	st := dashboardStats{Counts: map[credtrack.ProviderStatus]int{}, Within: map[int]int{}}
	for _, p := range ps {
		st.Counts[p.StatusWith(today, window, req)]++
		if !p.Active {
			continue // an inactive provider's expiries need no action
		}
		for _, c := range p.Credentials {
			if c.ExpiresOn.IsZero() {
				continue
			}
			d := c.ExpiresOn.DaysUntil(today)
			if d < 0 || d > expiringHorizon {
				continue
			}
			row := expiringRow{ProviderID: p.ID, ProviderName: p.FullName(), TypeLabel: c.Type.Label(),
				ExpiresOn: c.ExpiresOn, DaysLeft: daysLeft(d)}
			for _, b := range []int{30, 60, 90} {
				if d <= b {
					st.Within[b]++
					if row.Bucket == 0 {
						row.Bucket = b
					}
				}
			}
			st.Expiring = append(st.Expiring, row)
		}
	}
	slices.SortStableFunc(st.Expiring, func(a, b expiringRow) int {
		return cmp.Or(a.ExpiresOn.Compare(b.ExpiresOn.Time), cmp.Compare(a.ProviderName, b.ProviderName))
	})
	return st
}

// newBarChart lays out one bar per tile, scaled so the largest count
// fills the chart.
func newBarChart(tiles []statusCount) barChart {
	c := barChart{Width: chartLabelW + chartBarMax + 60, Height: len(tiles) * chartRowH, BarX: chartLabelW, BarH: chartBarH}
	most := 0
	for _, t := range tiles {
		most = max(most, t.Count)
	}
	for i, t := range tiles {
		b := chartBar{Status: t.Status, Count: t.Count, Y: i*chartRowH + (chartRowH-chartBarH)/2, TextY: i*chartRowH + chartRowH/2 + 5}
		if most > 0 {
			b.Width = t.Count * chartBarMax / most
			if t.Count > 0 && b.Width < 2 {
				b.Width = 2 // keep a non-zero count visible
			}
		}
		b.CountX = chartLabelW + b.Width + 8
		c.Bars = append(c.Bars, b)
	}
	return c
}
