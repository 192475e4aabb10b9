package reference

import (
	"errors"
	"strings"
	"testing"

	distreference "github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
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

// FuzzParseCommon checks the shortcut against the grammar: whatever parseCommon accepts,
// distribution's grammar accepts too, with the same result; and it accepts the push shapes.
func FuzzParseCommon(f *testing.F) {
	for _, seed := range []string{
		"172.30.56.218:5000/test/origin-ruby-sample@" + digest256,
		"image-registry.openshift-image-registry.svc:5000/myproject/app@" + digest256,
		"localhost/a/b/c@" + digest256, "Quay.IO/a__b/c-d.e@" + digest256, "quay.io/a___b@" + digest256,
		"quay.io/a-/b@" + digest256, "quay.io:/a@" + digest256, "-quay.io/a@" + digest256,
		"quay.io/A@" + digest256, "quay.io/a:tag@" + digest256, "quay.io/a@sha256:" + strings.ToUpper(sha256Hex),
		"quay.io//a@" + digest256, "quay.io/a/@" + digest256, "[::1]:5000/ns/app@" + digest256,
		"quay..io/a@" + digest256, "quay.io/a.-b@" + digest256, "quay.io/a--b@" + digest256,
		"registry/a@" + digest256, "a.b/" + strings.Repeat("a", 250) + "@" + digest256,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		fast, ok := parseCommon(spec)
		if !ok {
			return
		}
		parsed, err := distreference.Parse(spec)
		if err != nil {
			t.Fatalf("parseCommon(%q) accepted what the grammar rejects: %v", spec, err)
		}
		if name := parsed.(distreference.Named).Name(); len(name) > NameTotalLengthMax {
			t.Fatalf("parseCommon(%q) accepted a name of %d characters", spec, len(name))
		}
		slow, err := parseWithGrammar(spec)
		if err != nil || fast != slow {
			t.Fatalf("parseCommon(%q) = %#v, the grammar gives %#v, %v", spec, fast, slow, err)
		}
	})
}

// TestParseCommonShapes lists which specs take the shortcut: a push's shapes do; tags, IPv6
// hosts, registries without a dot or port, and anything invalid are left to the grammar.
func TestParseCommonShapes(t *testing.T) {
	for spec, want := range map[string]bool{
		"172.30.56.218:5000/test/origin-ruby-sample@" + digest256:                     true,
		"image-registry.openshift-image-registry.svc:5000/myproject/app@" + digest256: true,
		"localhost/a/b/c@" + digest256:                                                true,
		"Quay.IO/a__b/c-d.e@" + digest256:                                             true,
		"quay.io/a---b_c@" + digest256:                                                true,
		"quay.io/a:tag@" + digest256:                                                  false,
		"[::1]:5000/ns/app@" + digest256:                                              false,
		"registry/a@" + digest256:                                                     false,
		"quay.io/a":                                                                   false,
		"quay.io/a@sha256:" + strings.ToUpper(sha256Hex):                              false,
		"quay.io/a___b@" + digest256:                                                  false,
		"quay.io/A@" + digest256:                                                      false,
		"quay.io:/a@" + digest256:                                                     false,
		"a.b/" + strings.Repeat("a", 252) + "@" + digest256:                           false,
	} {
		if _, got := parseCommon(spec); got != want {
			t.Errorf("parseCommon(%q) took the shortcut: %v, want %v", spec, got, want)
		}
	}
}

// FuzzSHA256Digest checks the digest shortcut against go-digest: whatever it accepts,
// go-digest accepts as a sha256 digest with the same hex.
func FuzzSHA256Digest(f *testing.F) {
	for _, seed := range []string{digest256, "sha256:" + strings.ToUpper(sha256Hex), "sha256:" + sha256Hex[1:], "sha384:" + sha256Hex, ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !isSHA256Digest(s) {
			return
		}
		d, err := digest.Parse(s)
		if err != nil || d.Algorithm() != digest.SHA256 || d.Encoded() != s[len("sha256:"):] {
			t.Fatalf("isSHA256Digest(%q) accepted what go-digest parses as %q, %v", s, d, err)
		}
	})
}
