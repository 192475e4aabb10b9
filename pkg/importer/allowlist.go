package importer

import (
	"net"
	"path"
	"strings"
)

// allowed reports whether src's registry is on the allow-list; an empty list allows all.
// Patterns are "host", "host:port" or "*.domain[:port]" (path.Match globbing on the host), and
// "host:*" for any port. A pattern without a port matches the registry without one and on the
// default port of the scheme the import may use: 443, or 80 for insecure images.
func (imp *Importer) allowed(src source) bool {
	if len(imp.opts.AllowedRegistries) == 0 {
		return true
	}
	host, port := splitHostPort(src.registry)
	for _, pattern := range imp.opts.AllowedRegistries {
		pHost, pPort := splitHostPort(strings.ToLower(strings.TrimSpace(pattern)))
		if ok, _ := path.Match(pHost, host); !ok {
			continue
		}
		switch {
		case pPort == "*":
			return true
		case pPort != "":
			if pPort == port {
				return true
			}
		case port == "", port == "443", port == "80" && src.insecure:
			return true
		}
	}
	return false
}

// splitHostPort splits "host[:port]", lowercasing the host. An IPv6 host loses its brackets
// with or without a port ("[fd00::1]", "[fd00::1]:5000"): left in a pattern, they would be
// read as a glob character class.
func splitHostPort(hostport string) (host, port string) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return strings.ToLower(h), p
	}
	if inner, ok := strings.CutPrefix(hostport, "["); ok {
		if inner, ok = strings.CutSuffix(inner, "]"); ok {
			hostport = inner
		}
	}
	return strings.ToLower(hostport), ""
}
