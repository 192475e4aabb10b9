package reference

import (
	"errors"
	"strings"
)

// Digest errors. Their texts are those of the real server (openshift/library-go)
// because clients see them verbatim as `Invalid value` details.
var (
	// ErrDigestInvalidFormat is returned when a digest is not `algorithm:hex`.
	ErrDigestInvalidFormat = errors.New("invalid checksum digest format")
	// ErrDigestInvalidLength is returned when the hex part does not have the
	// length its algorithm produces.
	ErrDigestInvalidLength = errors.New("invalid checksum digest length")
	// ErrDigestUnsupported is returned for algorithms other than sha256,
	// sha384 and sha512.
	ErrDigestUnsupported = errors.New("unsupported digest algorithm")
)

// DigestPattern is the syntax of a digest inside a pull spec: an algorithm
// name, a colon and at least 32 hex digits (128 bits). It does not check the
// algorithm or the exact length; ParseDigest does.
const DigestPattern = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`

// hexLength maps each supported algorithm to the number of hex digits of its
// output.
var hexLength = map[string]int{
	"sha256": 64,
	"sha384": 96,
	"sha512": 128,
}

// ParseDigest splits a digest `algorithm:hex` and checks it: the algorithm
// must be sha256, sha384 or sha512 and the hex part lowercase with exactly
// 64, 96 or 128 digits. Lowercase is required because digests are compared
// as strings (an Image name is its digest, D5), so two spellings
// of one digest must not both be accepted.
func ParseDigest(s string) (algorithm, hex string, err error) {
	return parseDigest(s, false)
}

// IsValidDigest reports whether s is a digest ParseDigest accepts.
func IsValidDigest(s string) bool {
	_, _, err := ParseDigest(s)
	return err == nil
}

// parseDigest implements ParseDigest. allowUpper admits uppercase hex, which
// pull specs have always allowed (the real server's grammar uses
// [[:xdigit:]]); only stand-alone digests are held to lowercase.
func parseDigest(s string, allowUpper bool) (algorithm, hex string, err error) {
	algorithm, hex, ok := strings.Cut(s, ":")
	if !ok || !isAlgorithmSyntax(algorithm) || !isHex(hex, allowUpper) {
		return "", "", ErrDigestInvalidFormat
	}
	want, supported := hexLength[algorithm]
	if !supported {
		return "", "", ErrDigestUnsupported
	}
	if len(hex) != want {
		return "", "", ErrDigestInvalidLength
	}
	return algorithm, hex, nil
}

// isAlgorithmSyntax accepts the characters an algorithm name may be made of,
// so that e.g. "md5:..." is reported as unsupported rather than malformed.
func isAlgorithmSyntax(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '+', c == '.':
		default:
			return false
		}
	}
	return true
}

func isHex(s string, allowUpper bool) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case allowUpper && 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}
