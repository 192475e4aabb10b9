package reference

import "strings"

// parseCommon recognises, without the grammar's regular expression, the shape of nearly every
// spec a push carries: "registry[:port]/path@sha256:<64 lowercase hex>", where the registry
// has a dot or a port or is localhost. The grammar takes about as long as the rest of a
// mapping's validation. parseCommon only accepts specs distribution's grammar accepts and
// gives the result parse would (FuzzParseCommon); anything else, valid or not, it leaves to
// the grammar.
func parseCommon(spec string) (DockerImageReference, bool) {
	name, id, ok := strings.Cut(spec, "@")
	if !ok || !isSHA256Digest(id) || len(name) > NameTotalLengthMax {
		return DockerImageReference{}, false
	}
	registry, path, ok := strings.Cut(name, "/")
	if !ok || !looksLikeRegistry(registry) || !isDomainAndPort(registry) {
		return DockerImageReference{}, false
	}
	for component := range strings.SplitSeq(path, "/") {
		if !isPathComponent(component) {
			return DockerImageReference{}, false
		}
	}
	ref := DockerImageReference{Registry: registry, ID: id}
	ref.setPath(path)
	return ref, true
}

// isSHA256Digest reports whether s is "sha256:" and 64 lowercase hex digits, the only form
// go-digest accepts for that algorithm.
func isSHA256Digest(s string) bool {
	hex, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(hex) != 64 {
		return false
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isDomainAndPort reports whether s is dot-separated domain components, each alphanumerics
// with inner hyphens, and an optional ":port" of digits. IPv6 hosts are left to the grammar.
func isDomainAndPort(s string) bool {
	host, port, hasPort := strings.Cut(s, ":")
	if hasPort {
		if port == "" {
			return false
		}
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return false
			}
		}
	}
	for component := range strings.SplitSeq(host, ".") {
		if component == "" || component[0] == '-' || component[len(component)-1] == '-' {
			return false
		}
		for i := 0; i < len(component); i++ {
			if c := component[i]; !(isLowerAlphanumeric(c) || 'A' <= c && c <= 'Z' || c == '-') {
				return false
			}
		}
	}
	return true
}

// isPathComponent reports whether s is lowercase alphanumeric runs joined by one separator
// each: ".", "_", "__" or any number of "-".
func isPathComponent(s string) bool {
	if s == "" || !isLowerAlphanumeric(s[0]) || !isLowerAlphanumeric(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s); {
		if isLowerAlphanumeric(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && !isLowerAlphanumeric(s[j]) {
			j++
		}
		switch sep := s[i:j]; {
		case sep == "." || sep == "_" || sep == "__" || strings.Trim(sep, "-") == "":
		default:
			return false
		}
		i = j
	}
	return true
}

func isLowerAlphanumeric(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}
