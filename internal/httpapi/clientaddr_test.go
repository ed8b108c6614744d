package httpapi

import (
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/rookery/rookery/license"
)

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		remote  string
		xff     []string // X-Forwarded-For header lines
		trusted []netip.Prefix
		want    string
	}{
		{name: "no proxy trusted: the header is ignored", remote: "203.0.113.7:5000", xff: []string{"198.51.100.1"}, want: "203.0.113.7"},
		{name: "untrusted peer: the header is ignored", remote: "203.0.113.7:5000", xff: []string{"198.51.100.1"}, trusted: trusted, want: "203.0.113.7"},
		{name: "trusted peer names the client", remote: "10.1.2.3:5000", xff: []string{"198.51.100.1"}, trusted: trusted, want: "198.51.100.1"},
		{name: "spoofed entries left of the real client are ignored", remote: "10.1.2.3:5000", xff: []string{"1.1.1.1, 2.2.2.2, 198.51.100.1"}, trusted: trusted, want: "198.51.100.1"},
		{name: "trusted hops are skipped right to left", remote: "10.1.2.3:5000", xff: []string{"1.1.1.1, 198.51.100.1, 10.9.9.9"}, trusted: trusted, want: "198.51.100.1"},
		{name: "several header lines read as one list", remote: "10.1.2.3:5000", xff: []string{"1.1.1.1, 198.51.100.1", "10.9.9.9"}, trusted: trusted, want: "198.51.100.1"},
		{name: "trusted peer without the header", remote: "10.1.2.3:5000", trusted: trusted, want: "10.1.2.3"},
		{name: "all hops trusted: the leftmost", remote: "10.1.2.3:5000", xff: []string{"10.7.7.7, 10.8.8.8"}, trusted: trusted, want: "10.7.7.7"},
		{name: "garbage stops the walk at the last address read", remote: "10.1.2.3:5000", xff: []string{"1.1.1.1, not-an-ip, 10.8.8.8"}, trusted: trusted, want: "10.8.8.8"},
		{name: "entry with a port", remote: "10.1.2.3:5000", xff: []string{"198.51.100.1:4711"}, trusted: trusted, want: "198.51.100.1"},
		{name: "IPv6 entry with a port", remote: "[fd00::1]:5000", xff: []string{"[2001:db8::5]:4711"}, trusted: trusted, want: "2001:db8::5"},
		{name: "IPv4-mapped peer matches an IPv4 range", remote: "[::ffff:10.1.2.3]:5000", xff: []string{"198.51.100.1"}, trusted: trusted, want: "198.51.100.1"},
		{name: "IPv6 peer", remote: "[2001:db8::1]:5000", want: "2001:db8::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientAddr(r, tt.trusted); got.String() != tt.want {
				t.Errorf("clientAddr = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestAddrBucket(t *testing.T) {
	tests := []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"},
		{"2001:db8:1:2::1", "2001:db8:1:2:abcd::9"},
	}
	for _, tt := range tests {
		if ba, bb := addrBucket(netip.MustParseAddr(tt.a)), addrBucket(netip.MustParseAddr(tt.b)); ba != bb {
			t.Errorf("%s and %s are in one /64 but in buckets %q and %q", tt.a, tt.b, ba, bb)
		}
	}
	apart := []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
		{"192.0.2.1", "192.0.2.2"},
	}
	for _, tt := range apart {
		if ba, bb := addrBucket(netip.MustParseAddr(tt.a)), addrBucket(netip.MustParseAddr(tt.b)); ba == bb {
			t.Errorf("%s and %s share bucket %q", tt.a, tt.b, ba)
		}
	}
	if got := addrBucket(netip.MustParseAddr("2001:db8:1:2::1")); got != "2001:db8:1:2::/64" {
		t.Errorf("bucket of 2001:db8:1:2::1 = %q, want 2001:db8:1:2::/64", got)
	}
}

// TestClientIPInRequestRecord checks that the request log names the same
// client as the throttle: the one a trusted proxy forwarded for.
func TestClientIPInRequestRecord(t *testing.T) {
	var got RequestRecord
	s := New(Deps{License: devLicence(t), TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, OnRequest: func(r RequestRecord) { got = r }})
	r := httptest.NewRequest("GET", "/healthz", nil)
	r.RemoteAddr = "10.0.0.2:40000"
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.1")
	s.Handler().ServeHTTP(httptest.NewRecorder(), r)
	if got.ClientIP != "198.51.100.1" {
		t.Errorf("request record ClientIP = %q, want 198.51.100.1", got.ClientIP)
	}
	r = httptest.NewRequest("GET", "/healthz", nil)
	r.RemoteAddr = "203.0.113.9:40000"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	s.Handler().ServeHTTP(httptest.NewRecorder(), r)
	if got.ClientIP != "203.0.113.9" {
		t.Errorf("request record ClientIP from an untrusted peer = %q, want 203.0.113.9", got.ClientIP)
	}
}

// devLicence is a licence manager in development mode (no key): every
// feature on, nothing enforced.
func devLicence(t *testing.T) *license.Manager {
	t.Helper()
	m, err := license.New(license.Settings{}, license.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
