package web

import (
	"time"

	"credtrack"
)

// timeline is a provider's credentials drawn as bars from issue to expiry
// on one date axis, with a line at today: gaps and clusters of renewals
// show at a glance. All geometry is computed here; the template only
// writes numbers into SVG attributes.
type timeline struct {
	Width, Height int
	LabelW        int
	BarH          int
	AxisTop       int // y of the first row
	AxisBottom    int // y below the last row
	TodayX        int
	Rows          []timelineRow
	Ticks         []timelineTick
}

// timelineRow is one credential on the timeline.
type timelineRow struct {
	Label  string
	Title  string // tooltip: type and dates
	Status string
	Y      int // top of the bar
	TextY  int // baseline of the label
	X, W   int
	// OpenStart and OpenEnd mark a bar with no issue or no expiry date,
	// drawn to the edge of the axis.
	OpenStart, OpenEnd bool
}

// timelineTick is a year boundary on the axis.
type timelineTick struct {
	X     int
	Label string
}

// Geometry of the timeline, in SVG user units.
const (
	tlLabelW = 180
	tlChartW = 540
	tlRowH   = 26
	tlBarH   = 14
	tlTop    = 22
	tlMaxTic = 8
)

// newTimeline lays out creds (already in display order) around today.
// Credentials without any date are left out; with none left the
// timeline is empty and the page skips it.
func newTimeline(creds []*credtrack.Credential, today credtrack.Date, window int) timeline {
	lo, hi := today.Time, today.Time
	dated := 0
	for _, c := range creds {
		for _, d := range []credtrack.Date{c.IssuedOn, c.ExpiresOn} {
			if d.IsZero() {
				continue
			}
			dated++
			if d.Before(lo) {
				lo = d.Time
			}
			if d.After(hi) {
				hi = d.Time
			}
		}
	}
	if dated == 0 {
		return timeline{}
	}
	// Pad the axis so bars do not touch its ends and a one-day range
	// still has a width.
	pad := max(hi.Sub(lo)/20, 30*24*time.Hour)
	lo, hi = lo.Add(-pad), hi.Add(pad)
	span := hi.Sub(lo).Seconds()
	x := func(t time.Time) int {
		return tlLabelW + int(t.Sub(lo).Seconds()/span*tlChartW)
	}

	tl := timeline{LabelW: tlLabelW, BarH: tlBarH, Width: tlLabelW + tlChartW + 10, AxisTop: tlTop, TodayX: x(today.Time)}
	for _, c := range creds {
		if c.IssuedOn.IsZero() && c.ExpiresOn.IsZero() {
			continue
		}
		y := tlTop + len(tl.Rows)*tlRowH
		row := timelineRow{
			Label:  c.Type.Label(),
			Title:  c.Type.Label() + ": " + validity(c.IssuedOn, c.ExpiresOn),
			Status: string(c.Status(today, window)),
			Y:      y + (tlRowH-tlBarH)/2,
			TextY:  y + tlRowH/2 + 4,
		}
		start, end := lo, hi
		if c.IssuedOn.IsZero() {
			row.OpenStart = true
		} else {
			start = c.IssuedOn.Time
		}
		if c.ExpiresOn.IsZero() {
			row.OpenEnd = true
		} else {
			end = c.ExpiresOn.Time
		}
		row.X = x(start)
		row.W = max(x(end)-row.X, 2)
		tl.Rows = append(tl.Rows, row)
	}
	tl.AxisBottom = tlTop + len(tl.Rows)*tlRowH
	tl.Height = tl.AxisBottom + 6

	first, last := lo.Year()+1, hi.Year()
	step := max(1, (last-first+tlMaxTic)/tlMaxTic)
	for y := first; y <= last; y += step {
		jan1 := time.Date(y, time.January, 1, 0, 0, 0, 0, time.UTC)
		tl.Ticks = append(tl.Ticks, timelineTick{X: x(jan1), Label: jan1.Format("2006")})
	}
	return tl
}

// validity describes a credential's validity for the timeline's tooltip.
func validity(issued, expires credtrack.Date) string {
	switch {
	case issued.IsZero():
		return "expires " + expires.String()
	case expires.IsZero():
		return "issued " + issued.String() + ", no expiry date"
	}
	return issued.String() + " to " + expires.String()
}
