package server

import (
	"net/http"
	"strings"
	"time"
)

// SecurityTxt is the content of /.well-known/security.txt (RFC 9116).
type SecurityTxt struct {
	// Contact lists where to report a vulnerability (mailto:, https: or
	// tel: URIs), most preferred first. Required.
	Contact []string
	// Expires is when the file stops being valid. Required.
	Expires time.Time
	// Policy is the URL of the disclosure policy; optional.
	Policy string
	// Languages are the preferred languages of reports (en, de…).
	Languages []string
	// Canonical is the URL the file is served at; optional.
	Canonical string
}

// String renders the file: one "Field: value" line per value, CRLF-free.
func (s SecurityTxt) String() string {
	var b strings.Builder
	line := func(k, v string) {
		if v = strings.TrimSpace(v); v != "" && !strings.ContainsAny(v, "\r\n") {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	for _, c := range s.Contact {
		line("Contact", c)
	}
	line("Expires", s.Expires.UTC().Format(time.RFC3339))
	line("Policy", s.Policy)
	if len(s.Languages) > 0 {
		line("Preferred-Languages", strings.Join(s.Languages, ", "))
	}
	line("Canonical", s.Canonical)
	return b.String()
}

// Handler serves the file. It is public and the same for everyone, so it
// may be cached for a day.
func (s SecurityTxt) Handler() http.Handler {
	body := []byte(s.String())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Write(body)
	})
}
