package server

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientAddress sets r.RemoteAddr to the client's address before next
// runs, so that everything that reads it — the per-address sign-in,
// TOTP and sign-up throttles, the address in audit events, sessions and
// lockout emails, the loopback check of /metrics — sees the client
// rather than a reverse proxy. It is the only place X-Forwarded-For is
// read.
//
// When the TCP peer is in one of the trusted ranges, the client is the
// rightmost X-Forwarded-For address that is not itself in a trusted
// range: each proxy appends the address it received the request from, so
// everything to the left of the last untrusted hop was written by that
// hop (the client or someone it relayed for) and could be forged. When
// the peer is not trusted, X-Forwarded-For is ignored whatever it says,
// so a client reaching the server directly cannot pick the address it is
// throttled and audited under. With no trusted ranges, next is returned
// unchanged.
//
// The port of the rewritten RemoteAddr is 0: the client's source port is
// not known through a proxy. The TCP peer stays available through
// PeerAddr.
func ClientAddress(next http.Handler, trusted []netip.Prefix) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, ok := remoteAddr(r.RemoteAddr)
		if !ok || !inAny(peer, trusted) {
			next.ServeHTTP(w, r)
			return
		}
		client := clientAddr(peer, r.Header.Values("X-Forwarded-For"), trusted)
		if client == peer {
			next.ServeHTTP(w, r)
			return
		}
		r2 := r.WithContext(context.WithValue(r.Context(), peerKey{}, r.RemoteAddr))
		r2.RemoteAddr = netip.AddrPortFrom(client, 0).String()
		next.ServeHTTP(w, r2)
	})
}

type peerKey struct{}

// PeerAddr returns the TCP peer's address ("host:port") of a request
// whose RemoteAddr ClientAddress replaced with the forwarded client
// address, or r.RemoteAddr when it did not.
func PeerAddr(r *http.Request) string {
	if p, ok := r.Context().Value(peerKey{}).(string); ok {
		return p
	}
	return r.RemoteAddr
}

// maxForwardedHops bounds how many X-Forwarded-For entries are examined
// from the right. Real chains are a handful of proxies; a client padding
// the header with thousands of entries gets no more work out of us than
// this, and its padding is to the left of what we look at anyway.
const maxForwardedHops = 32

// clientAddr picks the client address of a request from trusted peer
// with the given X-Forwarded-For header values (in order of appearance;
// proxies may add a header line instead of extending the first). It
// walks the addresses from the right, skipping trusted ones, and returns
// the first untrusted one. An entry that is not an address where the
// walk stops means a trusted proxy passed on garbage: the last trusted
// hop seen is returned rather than guessing. When every entry is trusted
// (a request from inside the proxies' network), the leftmost is the
// client.
func clientAddr(peer netip.Addr, xff []string, trusted []netip.Prefix) netip.Addr {
	var hops []string
	for _, v := range xff {
		for h := range strings.SplitSeq(v, ",") {
			hops = append(hops, h)
		}
	}
	client := peer
	for i, n := len(hops)-1, 0; i >= 0 && n < maxForwardedHops; i, n = i-1, n+1 {
		a, ok := parseHop(hops[i])
		if !ok {
			return client
		}
		client = a
		if !inAny(a, trusted) {
			return a
		}
	}
	return client
}

// parseHop parses one X-Forwarded-For entry: an IPv4 or IPv6 address,
// optionally with a port ("203.0.113.7:4711", "[2001:db8::1]:4711", as
// some load balancers write it). IPv4-mapped IPv6 addresses are
// returned as IPv4 and zones are refused, so an address has one
// spelling in throttles and the audit log.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	if a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// remoteAddr parses a request's RemoteAddr ("host:port").
func remoteAddr(s string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		host = s
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
