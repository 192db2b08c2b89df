package httpapi

import (
	"net/netip"
	"testing"
)

func TestForwardedClientReadsRightToLeft(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	peer := netip.MustParseAddr("10.0.0.1")
	tests := []struct {
		name    string
		headers []string
		want    string
	}{
		{"no header: the proxy itself", nil, "10.0.0.1"},
		{"one client", []string{"203.0.113.7"}, "203.0.113.7"},
		{"spoofed left entries are ignored", []string{"1.2.3.4, 203.0.113.7"}, "203.0.113.7"},
		{"trusted hops are skipped", []string{"203.0.113.7, 10.1.1.1, 10.2.2.2"}, "203.0.113.7"},
		{"several headers are one list", []string{"1.2.3.4", "203.0.113.7, 10.1.1.1"}, "203.0.113.7"},
		{"garbage stops the walk at the last good hop", []string{"203.0.113.7, nonsense, 10.1.1.1"}, "10.1.1.1"},
		{"all trusted: the leftmost", []string{"10.9.9.9, 10.1.1.1"}, "10.9.9.9"},
		{"IPv4-mapped IPv6 is unmapped", []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := forwardedClient(tt.headers, peer, isTrusted).String(); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
