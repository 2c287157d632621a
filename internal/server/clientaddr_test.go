package server

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func prefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// TestClientAddr: the client is the rightmost X-Forwarded-For address
// that is not a trusted proxy.
func TestClientAddr(t *testing.T) {
	trusted := prefixes(t, "10.0.0.0/8", "fd00::/8")
	peer := netip.MustParseAddr("10.0.1.5")
	for _, tt := range []struct {
		name string
		xff  []string
		want string
	}{
		{"no header", nil, "10.0.1.5"},
		{"one hop", []string{"203.0.113.7"}, "203.0.113.7"},
		{"forged left part is skipped", []string{"198.51.100.1, 203.0.113.7"}, "203.0.113.7"},
		{"two trusted proxies", []string{"198.51.100.1, 203.0.113.7, 10.0.2.9"}, "203.0.113.7"},
		{"several header lines", []string{"198.51.100.1", "203.0.113.7, 10.0.2.9"}, "203.0.113.7"},
		{"spaces and port", []string{" 203.0.113.7:4711 ,10.0.2.9"}, "203.0.113.7"},
		{"IPv6 with port", []string{"[2001:db8::7]:4711"}, "2001:db8::7"},
		{"IPv6", []string{"2001:db8::7, fd00::1"}, "2001:db8::7"},
		{"IPv4-mapped", []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
		{"all trusted: leftmost", []string{"10.9.9.9, 10.0.2.9"}, "10.9.9.9"},
		{"garbage at the edge: last trusted hop", []string{"203.0.113.7, unknown, 10.0.2.9"}, "10.0.2.9"},
		{"garbage right away: the peer", []string{"203.0.113.7, not-an-ip"}, "10.0.1.5"},
		{"zone refused", []string{"fe80::1%eth0"}, "10.0.1.5"},
		{"empty entry", []string{"203.0.113.7, "}, "10.0.1.5"},
	} {
		if got := clientAddr(peer, tt.xff, trusted); got.String() != tt.want {
			t.Errorf("%s: clientAddr(%q) = %s, want %s", tt.name, tt.xff, got, tt.want)
		}
	}
	// A long forged chain costs a bounded walk.
	long := strings.Repeat("10.0.0.1,", 10000) + "10.0.0.2"
	if got := clientAddr(peer, []string{long}, trusted); got.String() != "10.0.0.1" {
		t.Errorf("long chain: %s", got)
	}
}

// TestClientAddress: RemoteAddr is rewritten only for a trusted peer; a
// client connecting directly cannot choose its address by sending
// X-Forwarded-For.
func TestClientAddress(t *testing.T) {
	var gotRemote, gotPeer string
	h := ClientAddress(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotRemote, gotPeer = r.RemoteAddr, PeerAddr(r)
	}), prefixes(t, "10.0.0.0/8", "127.0.0.1/32"))
	for _, tt := range []struct {
		remote, xff, want, peer string
	}{
		{"10.0.1.5:5000", "203.0.113.7", "203.0.113.7:0", "10.0.1.5:5000"},
		{"127.0.0.1:5000", "203.0.113.7", "203.0.113.7:0", "127.0.0.1:5000"},
		{"[::ffff:10.0.1.5]:5000", "203.0.113.7", "203.0.113.7:0", "[::ffff:10.0.1.5]:5000"},
		{"[2001:db8::1]:5000", "203.0.113.7", "[2001:db8::1]:5000", "[2001:db8::1]:5000"},
		// Spoofing: an untrusted peer's header is ignored.
		{"198.51.100.9:5000", "127.0.0.1", "198.51.100.9:5000", "198.51.100.9:5000"},
		{"198.51.100.9:5000", "203.0.113.7", "198.51.100.9:5000", "198.51.100.9:5000"},
		{"10.0.1.5:5000", "", "10.0.1.5:5000", "10.0.1.5:5000"},
		{"10.0.1.5:5000", "[2001:db8::7]:1", "[2001:db8::7]:0", "10.0.1.5:5000"},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = tt.remote
		if tt.xff != "" {
			req.Header.Set("X-Forwarded-For", tt.xff)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
		if gotRemote != tt.want || gotPeer != tt.peer {
			t.Errorf("peer %s, X-Forwarded-For %q: RemoteAddr %s, PeerAddr %s; want %s, %s", tt.remote, tt.xff, gotRemote, gotPeer, tt.want, tt.peer)
		}
	}
}
