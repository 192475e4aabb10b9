package reference

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse feeds Parse arbitrary specs: it must never panic, must fail only
// with the package's errors (their texts reach clients), and whatever it
// accepts must render with Exact to a spec that parses back to the same
// reference (less the tag, which a digest makes redundant).
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"", "redis", "foo:tag@" + digest256, "a/b/c", "localhost:5000", "quay.io@" + digest256,
		"172.30.56.218:5000/test/origin-ruby-sample@" + digest256, "[::1]:5000/ns/app",
		"foo@sha256:" + strings.ToUpper(sha256Hex), "foo@SHA256:" + sha256Hex, "Foo", "a___b",
		"foo@sha512:" + strings.Repeat("a", 128), strings.Repeat("a", 256),
	} {
		f.Add(seed)
	}
	known := []error{
		ErrNameEmpty, ErrNameContainsUppercase, ErrReferenceInvalidFormat, ErrNameTooLong,
		ErrDigestInvalidFormat, ErrDigestInvalidLength, ErrDigestUnsupported,
	}
	f.Fuzz(func(t *testing.T, spec string) {
		ref, err := Parse(spec)
		if err != nil {
			for _, k := range known {
				if errors.Is(err, k) {
					return
				}
			}
			t.Fatalf("Parse(%q): unexpected error %v", spec, err)
		}
		exact := ref.Exact()
		again, err := Parse(exact)
		if err != nil {
			t.Fatalf("Parse(%q) = %#v renders as %q, which does not parse: %v", spec, ref, exact, err)
		}
		want := ref
		if want.ID != "" {
			want.Tag = ""
		}
		if again != want {
			t.Fatalf("Parse(%q) = %#v renders as %q, which parses to %#v", spec, ref, exact, again)
		}
	})
}
