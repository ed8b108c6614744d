package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr is the address of the client that sent r. The direct peer is
// the client unless it is one of the trusted proxies; then X-Forwarded-For
// is read from right to left, skipping further trusted hops, and the first
// address that is not a trusted proxy is the client. Entries left of that
// were written by the client itself and are never believed. The result is
// invalid when even the peer address cannot be parsed.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := peerAddr(r.RemoteAddr)
	if !peer.IsValid() || !isTrusted(peer, trusted) {
		return peer
	}
	client := peer
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		entries := strings.Split(hops[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			a := forwardedAddr(entries[j])
			if !a.IsValid() {
				// A hop we trust wrote something that is not an address:
				// the last address we could read is the best we know.
				return client
			}
			client = a
			if !isTrusted(a, trusted) {
				return client
			}
		}
	}
	return client
}

// peerAddr parses a RemoteAddr ("ip:port", or a bare ip).
func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// forwardedAddr parses one X-Forwarded-For entry: an address, possibly
// with a port ("192.0.2.1:8080", "[2001:db8::1]:8080").
func forwardedAddr(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	return netip.Addr{}
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// addrBucket names the throttle bucket of a client address. An IPv6 client
// usually holds a whole /64 and can pick any address in it, so the /64 is
// the bucket; an IPv4 address is its own.
func addrBucket(a netip.Addr) string {
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	return a.String()
}
