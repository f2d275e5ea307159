package server

import (
	"net/http"
	"net/netip"
	"strings"
)

// strippedHeaders are removed from every forwarded request: credentials,
// cookies meant for airgate or Airflow, identity headers an upstream might
// trust, and path-override headers. Client forwarding headers are removed
// here too and rebuilt from what airgate saw itself.
var strippedHeaders = []string{
	"Authorization", "Proxy-Authorization", "Cookie",
	"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-Prefix",
	"X-Real-Ip", "X-Client-Ip", "True-Client-Ip", "Cf-Connecting-Ip", "X-Cluster-Client-Ip", "Fastly-Client-Ip",
	"X-Original-Url", "X-Rewrite-Url", "X-Original-Uri", "X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
	"Remote-User", "Remote_user", "X-Remote-User", "X-Remote-Group", "X-Auth-Request-User", "X-Auth-Request-Email",
	"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups", "X-Ms-Client-Principal", "X-Ms-Client-Principal-Name",
	"X-Ms-Client-Principal-Id", "X-Ms-Token-Aad-Access-Token", "X-Ms-Token-Aad-Id-Token",
	"X-Request-Id",
}

// strippedFragments remove, by substring of the lower-case header name, the
// identity-looking headers the list above does not name. User-Agent is the
// one legitimate header they would catch.
var strippedFragments = []string{"user", "remote", "auth", "identity", "principal", "email", "impersonat", "airgate", "groups", "roles", "forwarded", "client-ip", "real-ip"}

// stripHeaders (hotpath_headers.go) removes both from every forwarded
// request.

// trustedProxies decides whose forwarding headers are believed.
type trustedProxies []netip.Prefix

func (t trustedProxies) contains(a netip.Addr) bool {
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr returns the caller's address: the TCP peer, or, when the peer
// is a trusted proxy, the right-most X-Forwarded-For entry that is not
// itself a trusted proxy.
func (t trustedProxies) clientAddr(r *http.Request) netip.Addr {
	peer := peerAddr(r)
	if !t.contains(peer) {
		return peer
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer
		}
		a = a.Unmap()
		if !t.contains(a) {
			return a
		}
	}
	return peer
}

// forwardedProto returns the scheme the client used: X-Forwarded-Proto from
// a trusted proxy, else what airgate itself served.
func (t trustedProxies) forwardedProto(r *http.Request) string {
	if t.contains(peerAddr(r)) {
		if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
			return p
		}
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// forwardedHost returns the host the client used: X-Forwarded-Host from a
// trusted proxy, else the Host header.
func (t trustedProxies) forwardedHost(r *http.Request) string {
	if t.contains(peerAddr(r)) {
		if h := r.Header.Get("X-Forwarded-Host"); h != "" && !strings.ContainsAny(h, " /\\,") {
			return h
		}
	}
	return r.Host
}

func peerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
