package reference

import (
	// go-digest reports an algorithm as supported only when its hash is
	// linked in; without these, sha384 and sha512 digests would be
	// "unsupported" in any binary that happens not to import them.
	_ "crypto/sha256"
	_ "crypto/sha512"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Digest errors: go-digest's own values, whose texts are those of the real
// server (clients see them verbatim as `Invalid value` details).
var (
	// ErrDigestInvalidFormat is returned when a digest is not `algorithm:hex`.
	ErrDigestInvalidFormat = digest.ErrDigestInvalidFormat
	// ErrDigestInvalidLength is returned when the hex part does not have the
	// length its algorithm produces.
	ErrDigestInvalidLength = digest.ErrDigestInvalidLength
	// ErrDigestUnsupported is returned for algorithms other than sha256,
	// sha384 and sha512.
	ErrDigestUnsupported = digest.ErrDigestUnsupported
)

// DigestPattern is the syntax of a digest inside a pull spec: an algorithm
// name, a colon and at least 32 hex digits (128 bits) of either case. It does
// not check the algorithm or the exact length; ParseDigest does. It is
// distribution's digest grammar (a test checks that it still is), kept as a
// constant because validation compiles it at start-up.
const DigestPattern = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}`

// ParseDigest splits a digest `algorithm:hex` and checks it with go-digest:
// the algorithm must be sha256, sha384 or sha512 and the hex part lowercase
// with exactly 64, 96 or 128 digits. Lowercase is required because digests
// are compared as strings (an Image name is its digest, D5), so two spellings
// of one digest must not both be accepted. Which error a malformed digest
// gets is go-digest's, as where OpenShift parses a stand-alone digest (its
// importer's digest.Parse).
func ParseDigest(s string) (algorithm, hex string, err error) {
	if isSHA256Digest(s) {
		// The form nearly every image name has, checked without go-digest's regular
		// expression.
		return "sha256", s[len("sha256:"):], nil
	}
	d, err := digest.Parse(s)
	if err != nil {
		return "", "", err
	}
	return d.Algorithm().String(), d.Encoded(), nil
}

// IsValidDigest reports whether s is a digest ParseDigest accepts.
func IsValidDigest(s string) bool {
	return isSHA256Digest(s) || digest.Digest(s).Validate() == nil
}

// validatePullSpecDigest checks the digest of a pull spec as OpenShift does:
// a supported algorithm (case-sensitive), then the length of the hex part,
// whose case does not matter. OpenShift's pull-spec grammar uses
// [[:xdigit:]], so pull specs with uppercase hex have always been accepted;
// only stand-alone digests are held to lowercase. go-digest knows the
// algorithms and their lengths but wants lowercase hex, so it is given the
// hex lowercased. No other check is needed: only sha256, sha384 and sha512
// pass, and only with hex digits (no non-ASCII letter lowercases to one).
func validatePullSpecDigest(s string) error {
	algorithm, hex, ok := strings.Cut(s, ":")
	if !ok {
		return ErrDigestInvalidFormat
	}
	return digest.Algorithm(algorithm).Validate(strings.ToLower(hex))
}
