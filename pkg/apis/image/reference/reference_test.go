package reference

import (
	"errors"
	"strings"
	"testing"

	distreference "github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

const (
	sha256Hex = "47463d94eb5c049b2d23b03a9530bf944f8f967a0fe79147dd6b9135bf7dd13d"
	digest256 = "sha256:" + sha256Hex
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		spec    string
		want    DockerImageReference
		wantErr error
	}{
		// Shapes of valid specs.
		{name: "name only", spec: "foo", want: DockerImageReference{Name: "foo"}},
		{name: "name and tag", spec: "foo:tag", want: DockerImageReference{Name: "foo", Tag: "tag"}},
		{name: "name and digest", spec: "foo@" + digest256, want: DockerImageReference{Name: "foo", ID: digest256}},
		{name: "tag and digest", spec: "foo:tag@" + digest256, want: DockerImageReference{Name: "foo", Tag: "tag", ID: digest256}},
		{name: "namespace", spec: "bar/foo", want: DockerImageReference{Namespace: "bar", Name: "foo"}},
		{name: "a/b/c splits after the first segment", spec: "a/b/c", want: DockerImageReference{Namespace: "a", Name: "b/c"}},
		{name: "four segments", spec: "a/b/c/d:t", want: DockerImageReference{Namespace: "a", Name: "b/c/d", Tag: "t"}},
		{name: "digest-looking name is a name and a tag", spec: digest256, want: DockerImageReference{Name: "sha256", Tag: sha256Hex}},
		{name: "registry with port", spec: "bar:5000/foo/baz", want: DockerImageReference{Registry: "bar:5000", Namespace: "foo", Name: "baz"}},
		{name: "registry with port, no namespace", spec: "bar:5000/baz:tag", want: DockerImageReference{Registry: "bar:5000", Name: "baz", Tag: "tag"}},
		{name: "dotted registry", spec: "myregistry.io/foo", want: DockerImageReference{Registry: "myregistry.io", Name: "foo"}},
		{name: "localhost registry", spec: "localhost/bar", want: DockerImageReference{Registry: "localhost", Name: "bar"}},
		{name: "localhost-prefixed segment is a namespace", spec: "localhostx/bar", want: DockerImageReference{Namespace: "localhostx", Name: "bar"}},
		{name: "uppercase registry host is allowed", spec: "MyRegistry.io/foo", want: DockerImageReference{Registry: "MyRegistry.io", Name: "foo"}},
		{name: "docker hub nested", spec: "docker.io/user/project/app", want: DockerImageReference{Registry: "docker.io", Namespace: "user", Name: "project/app"}},
		{
			name: "documentation example: IP:port registry with digest",
			spec: "172.30.56.218:5000/test/origin-ruby-sample@" + digest256,
			want: DockerImageReference{Registry: "172.30.56.218:5000", Namespace: "test", Name: "origin-ruby-sample", ID: digest256},
		},
		{name: "sha384 digest", spec: "foo@sha384:" + strings.Repeat("a", 96), want: DockerImageReference{Name: "foo", ID: "sha384:" + strings.Repeat("a", 96)}},
		{name: "sha512 digest", spec: "foo@sha512:" + strings.Repeat("a", 128), want: DockerImageReference{Name: "foo", ID: "sha512:" + strings.Repeat("a", 128)}},
		{name: "uppercase digest hex is accepted in a pull spec", spec: "foo@sha256:" + strings.ToUpper(sha256Hex), want: DockerImageReference{Name: "foo", ID: "sha256:" + strings.ToUpper(sha256Hex)}},

		// Component separators.
		{name: "separator dot", spec: "ns/a.b", want: DockerImageReference{Namespace: "ns", Name: "a.b"}},
		{name: "single dotted segment is a registry", spec: "a.b", want: DockerImageReference{Registry: "a.b"}},
		{name: "separator underscore", spec: "a_b", want: DockerImageReference{Name: "a_b"}},
		{name: "separator double underscore", spec: "a__b", want: DockerImageReference{Name: "a__b"}},
		{name: "separator run of dashes", spec: "a---b", want: DockerImageReference{Name: "a---b"}},
		{name: "triple underscore", spec: "a___b", wantErr: ErrReferenceInvalidFormat},
		{name: "leading separator", spec: "-a", wantErr: ErrReferenceInvalidFormat},
		{name: "trailing separator", spec: "a-", wantErr: ErrReferenceInvalidFormat},
		{name: "mixed separators", spec: "a._b", wantErr: ErrReferenceInvalidFormat},

		// Registry only: no name, no error.
		{name: "registry only, dotted", spec: "quay.io", want: DockerImageReference{Registry: "quay.io"}},
		{name: "registry only, localhost with port", spec: "localhost:5000", want: DockerImageReference{Registry: "localhost:5000"}},
		{name: "registry only, localhost", spec: "localhost", want: DockerImageReference{Registry: "localhost"}},
		{name: "registry with org", spec: "quay.io/org", want: DockerImageReference{Registry: "quay.io", Name: "org"}},

		// Tags.
		{name: "128 char tag", spec: "foo:" + strings.Repeat("t", 128), want: DockerImageReference{Name: "foo", Tag: strings.Repeat("t", 128)}},
		{name: "129 char tag", spec: "foo:" + strings.Repeat("t", 129), wantErr: ErrReferenceInvalidFormat},
		{name: "tag starting with dot", spec: "foo:.t", wantErr: ErrReferenceInvalidFormat},
		{name: "uppercase tag is fine", spec: "foo:V1.0-rc_1", want: DockerImageReference{Name: "foo", Tag: "V1.0-rc_1"}},

		// Length of the repository part.
		{
			name: "255 char repository",
			spec: "bar:5000/" + strings.Repeat("a", 63) + "/" + strings.Repeat("b", 182) + ":tag",
			want: DockerImageReference{Registry: "bar:5000", Namespace: strings.Repeat("a", 63), Name: strings.Repeat("b", 182), Tag: "tag"},
		},
		// The limit counts the registry too, as in OpenShift; distribution alone
		// would count only the 247 characters after "bar:5000/".
		{name: "256 char repository", spec: "bar:5000/" + strings.Repeat("a", 63) + "/" + strings.Repeat("b", 183) + ":tag", wantErr: ErrNameTooLong},

		// Every error string.
		{name: "empty", spec: "", wantErr: ErrNameEmpty},
		{name: "uppercase", spec: "registry:3000/integration/imageStream:success", wantErr: ErrNameContainsUppercase},
		{name: "uppercase single name", spec: "Foo", wantErr: ErrNameContainsUppercase},
		{name: "url scheme", spec: "https://bar:5000/foo/baz", wantErr: ErrReferenceInvalidFormat},
		{name: "empty path segment", spec: "bar/foo/baz////biz", wantErr: ErrReferenceInvalidFormat},
		{name: "leading slashes", spec: "//foo/baz", wantErr: ErrReferenceInvalidFormat},
		{name: "trailing slash before tag", spec: "registry.io/foo/bar/:Tag", wantErr: ErrReferenceInvalidFormat},
		{name: "tag only", spec: ":tag", wantErr: ErrReferenceInvalidFormat},
		{name: "digest only", spec: "@" + digest256, wantErr: ErrReferenceInvalidFormat},
		{name: "short digest", spec: "abc@badid", wantErr: ErrReferenceInvalidFormat},
		{name: "digest under 32 hex", spec: "foo@sha256:bad", wantErr: ErrReferenceInvalidFormat},
		{name: "digest wrong length", spec: "registry:5000/integration/test@sha256:00000000000000000000000000000001", wantErr: ErrDigestInvalidLength},
		{name: "digest unsupported algorithm", spec: "foo@md5:" + strings.Repeat("0", 32), wantErr: ErrDigestUnsupported},

		// Where distribution's reference.Parse or go-digest alone would answer
		// differently, OpenShift's answer is kept.
		{name: "redis stays redis", spec: "redis", want: DockerImageReference{Name: "redis"}},
		{name: "redis by digest stays as typed", spec: "redis@" + digest256, want: DockerImageReference{Name: "redis", ID: digest256}},
		{name: "docker.io gets no library/", spec: "docker.io/redis:7", want: DockerImageReference{Registry: "docker.io", Name: "redis", Tag: "7"}},
		// IPv6 hosts: distribution's grammar, not OpenShift's (which has none),
		// because an IPv6 --registry-hostname makes the server publish them.
		{name: "IPv6 host with port", spec: "[::1]:5000/ns/app", want: DockerImageReference{Registry: "[::1]:5000", Namespace: "ns", Name: "app"}},
		{name: "IPv6 host", spec: "[fe80::1]/app:tag", want: DockerImageReference{Registry: "[fe80::1]", Name: "app", Tag: "tag"}},
		{name: "IPv6 host with digest", spec: "[fd00::1]:5000/ns/app@" + digest256, want: DockerImageReference{Registry: "[fd00::1]:5000", Namespace: "ns", Name: "app", ID: digest256}},
		{name: "IPv6 host keeps its case", spec: "[FD00::1]:5000/app", want: DockerImageReference{Registry: "[FD00::1]:5000", Name: "app"}},
		{name: "IPv6 host with uppercase path", spec: "[::1]/App", wantErr: ErrNameContainsUppercase},
		{name: "IPv6 host alone", spec: "[::1]:5000", wantErr: ErrReferenceInvalidFormat},
		{name: "IPv6 host unbracketed", spec: "fd00::1/app", wantErr: ErrReferenceInvalidFormat},
		{name: "IPv6 host without closing bracket", spec: "[fd00::1:5000/app", wantErr: ErrReferenceInvalidFormat},
		{name: "bracket elsewhere", spec: "ns/[::1]", wantErr: ErrReferenceInvalidFormat},
		{name: "255 char single name", spec: strings.Repeat("a", 255), want: DockerImageReference{Name: strings.Repeat("a", 255)}},
		{name: "256 char single name", spec: strings.Repeat("a", 256), wantErr: ErrNameTooLong},
		{name: "256 char name with namespace", spec: strings.Repeat("a", 128) + "/" + strings.Repeat("b", 127), wantErr: ErrNameTooLong},
		{name: "too long name wins over a bad digest", spec: "bar:5000/" + strings.Repeat("a", 63) + "/" + strings.Repeat("b", 183) + "@sha256:" + strings.ToUpper(sha256Hex[1:]), wantErr: ErrNameTooLong},
		{name: "uppercase path with digest", spec: "Foo@" + digest256, wantErr: ErrNameContainsUppercase},
		{name: "uppercase hex with tag", spec: "r.io/ns/app:v1@sha256:" + strings.ToUpper(sha256Hex), want: DockerImageReference{Registry: "r.io", Namespace: "ns", Name: "app", Tag: "v1", ID: "sha256:" + strings.ToUpper(sha256Hex)}},
		{name: "mixed-case hex", spec: "foo@sha256:" + strings.ToUpper(sha256Hex[:32]) + sha256Hex[32:], want: DockerImageReference{Name: "foo", ID: "sha256:" + strings.ToUpper(sha256Hex[:32]) + sha256Hex[32:]}},
		{name: "uppercase sha512 hex", spec: "foo@sha512:" + strings.Repeat("A", 128), want: DockerImageReference{Name: "foo", ID: "sha512:" + strings.Repeat("A", 128)}},
		{name: "uppercase hex of the wrong length", spec: "foo@sha256:" + strings.ToUpper(sha256Hex[1:]), wantErr: ErrDigestInvalidLength},
		{name: "uppercase algorithm is unsupported", spec: "foo@SHA256:" + sha256Hex, wantErr: ErrDigestUnsupported},
		{name: "two digests", spec: "foo@" + digest256 + "@" + digest256, wantErr: ErrReferenceInvalidFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.spec)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Parse(%q) error = %v, want %v", tc.spec, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("Parse(%q) = %#v, want %#v", tc.spec, got, tc.want)
			}
		})
	}
}

// The error texts are wire-visible (they become `Invalid value` details), so
// pin them verbatim: they are the real server's.
func TestErrorStrings(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{ErrNameEmpty, "repository name must have at least one component"},
		{ErrNameContainsUppercase, "repository name must be lowercase"},
		{ErrReferenceInvalidFormat, "invalid reference format"},
		{ErrNameTooLong, "repository name must not be more than 255 characters"},
		{ErrDigestInvalidFormat, "invalid checksum digest format"},
		{ErrDigestInvalidLength, "invalid checksum digest length"},
		{ErrDigestUnsupported, "unsupported digest algorithm"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("error text = %q, want %q", got, tc.want)
		}
	}
}

// The errors are the libraries' own values, so errors.Is matches callers
// that test against either package's names.
func TestErrorsAreTheLibraries(t *testing.T) {
	tests := []struct {
		ours, theirs error
	}{
		{ErrNameEmpty, distreference.ErrNameEmpty},
		{ErrNameContainsUppercase, distreference.ErrNameContainsUppercase},
		{ErrReferenceInvalidFormat, distreference.ErrReferenceInvalidFormat},
		{ErrNameTooLong, distreference.ErrNameTooLong},
		{ErrDigestInvalidFormat, digest.ErrDigestInvalidFormat},
		{ErrDigestInvalidLength, digest.ErrDigestInvalidLength},
		{ErrDigestUnsupported, digest.ErrDigestUnsupported},
	}
	for _, tc := range tests {
		if !errors.Is(tc.ours, tc.theirs) {
			t.Errorf("%q is not the library's error", tc.ours)
		}
	}
}

// TagPattern is quoted in a validation message and DigestPattern compiled by
// validation, so both are constants; they must stay distribution's grammar,
// and an upgrade of the library that changes it must be a decision.
func TestPatternsAreTheLibraries(t *testing.T) {
	if got, want := TagPattern, distreference.TagRegexp.String(); got != want {
		t.Errorf("TagPattern = %q, distribution has %q", got, want)
	}
	if got, want := DigestPattern, distreference.DigestRegexp.String(); got != want {
		t.Errorf("DigestPattern = %q, distribution has %q", got, want)
	}
	if NameTotalLengthMax != 255 {
		t.Errorf("NameTotalLengthMax = %d, want 255", NameTotalLengthMax)
	}
}

func TestExact(t *testing.T) {
	tests := []struct {
		name string
		ref  DockerImageReference
		want string
	}{
		{name: "empty", ref: DockerImageReference{}, want: ""},
		{name: "name", ref: DockerImageReference{Name: "foo"}, want: "foo"},
		{name: "full with tag", ref: DockerImageReference{Registry: "r:5000", Namespace: "ns", Name: "n", Tag: "t"}, want: "r:5000/ns/n:t"},
		{name: "digest id wins over tag", ref: DockerImageReference{Name: "n", Tag: "t", ID: digest256}, want: "n@" + digest256},
		{name: "non-digest id rendered as tag", ref: DockerImageReference{Name: "n", ID: "abc123"}, want: "n:abc123"},
		{name: "uppercase-hex digest id", ref: DockerImageReference{Name: "n", ID: "sha256:" + strings.ToUpper(sha256Hex)}, want: "n@sha256:" + strings.ToUpper(sha256Hex)},
		{name: "digest-like id of the wrong length rendered as tag", ref: DockerImageReference{Name: "n", ID: "sha256:abc"}, want: "n:sha256:abc"},
		{name: "unsupported-algorithm id rendered as tag", ref: DockerImageReference{Name: "n", ID: "md5:" + strings.Repeat("0", 32)}, want: "n:md5:" + strings.Repeat("0", 32)},
		{name: "registry only", ref: DockerImageReference{Registry: "localhost:5000"}, want: "localhost:5000"},
		{name: "docker hub gets no library/ prefix", ref: DockerImageReference{Registry: "docker.io", Name: "app"}, want: "docker.io/app"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.ref.Exact(); got != tc.want {
				t.Errorf("Exact() = %q, want %q", got, tc.want)
			}
		})
	}
}

// Exact must reproduce any spec Parse accepts.
func TestParseExactRoundTrip(t *testing.T) {
	for _, spec := range []string{
		"foo",
		"foo:tag",
		"a/b/c:t",
		"quay.io",
		"localhost:5000",
		"quay.io@" + digest256,
		"172.30.56.218:5000/test/origin-ruby-sample@" + digest256,
		"r.io/ns/name:tag@" + digest256,
		"redis@" + digest256,
		"docker.io/redis@" + digest256,
		"foo@sha256:" + strings.ToUpper(sha256Hex),
		"[fd00::1]:5000/ns/app@" + digest256,
	} {
		ref, err := Parse(spec)
		if err != nil {
			t.Fatalf("Parse(%q): %v", spec, err)
		}
		want := spec
		if ref.ID != "" && ref.Tag != "" {
			// A digest makes the tag redundant, so Exact drops it.
			want = strings.Replace(spec, ":tag@", "@", 1)
		}
		if got := ref.Exact(); got != want {
			t.Errorf("Parse(%q).Exact() = %q, want %q", spec, got, want)
		}
	}
}

func TestRepositoryName(t *testing.T) {
	ref, err := Parse("172.30.56.218:5000/test/origin-ruby-sample:latest@" + digest256)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ref.RepositoryName(), "172.30.56.218:5000/test/origin-ruby-sample"; got != want {
		t.Errorf("RepositoryName() = %q, want %q", got, want)
	}
	if got, want := ref.DigestOrTag(), digest256; got != want {
		t.Errorf("DigestOrTag() = %q, want %q", got, want)
	}
	if got, want := (DockerImageReference{Name: "n", Tag: "t"}).DigestOrTag(), "t"; got != want {
		t.Errorf("DigestOrTag() = %q, want %q", got, want)
	}
}

func TestParseDigest(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantAlgo string
		wantHex  string
		wantErr  error
	}{
		{name: "sha256", in: digest256, wantAlgo: "sha256", wantHex: sha256Hex},
		{name: "sha384", in: "sha384:" + strings.Repeat("0", 96), wantAlgo: "sha384", wantHex: strings.Repeat("0", 96)},
		{name: "sha512", in: "sha512:" + strings.Repeat("f", 128), wantAlgo: "sha512", wantHex: strings.Repeat("f", 128)},
		{name: "empty", in: "", wantErr: ErrDigestInvalidFormat},
		{name: "no colon", in: "sha256" + sha256Hex, wantErr: ErrDigestInvalidFormat},
		{name: "no hex", in: "sha256:", wantErr: ErrDigestInvalidFormat},
		{name: "no algorithm", in: ":" + sha256Hex, wantErr: ErrDigestInvalidFormat},
		{name: "uppercase hex", in: "sha256:" + strings.ToUpper(sha256Hex), wantErr: ErrDigestInvalidFormat},
		{name: "non-hex", in: "sha256:" + strings.Repeat("g", 64), wantErr: ErrDigestInvalidFormat},
		{name: "bad algorithm character", in: "sha/256:" + sha256Hex, wantErr: ErrDigestInvalidFormat},
		{name: "sha256 too short", in: "sha256:" + sha256Hex[1:], wantErr: ErrDigestInvalidLength},
		{name: "sha256 too long", in: digest256 + "0", wantErr: ErrDigestInvalidLength},
		{name: "sha384 with 64 hex", in: "sha384:" + sha256Hex, wantErr: ErrDigestInvalidLength},
		{name: "sha512 with 96 hex", in: "sha512:" + strings.Repeat("0", 96), wantErr: ErrDigestInvalidLength},
		{name: "unsupported algorithm", in: "md5:" + strings.Repeat("0", 32), wantErr: ErrDigestUnsupported},
		// go-digest's verdicts, as where OpenShift parses a stand-alone digest
		// (its importer's digest.Parse). Which digests pass is unchanged; for
		// these malformed ones the error is go-digest's.
		{name: "algorithm is case sensitive", in: "SHA256:" + sha256Hex, wantErr: ErrDigestInvalidFormat},
		{name: "length is checked before hex", in: "sha256:" + strings.Repeat("g", 63), wantErr: ErrDigestInvalidLength},
		{name: "unsupported algorithm with non-hex", in: "md5:zz", wantErr: ErrDigestUnsupported},
		{name: "second colon", in: "sha256:abc:" + sha256Hex, wantErr: ErrDigestInvalidLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			algo, hex, err := ParseDigest(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("ParseDigest(%q) error = %v, want %v", tc.in, err, tc.wantErr)
			}
			if algo != tc.wantAlgo || hex != tc.wantHex {
				t.Errorf("ParseDigest(%q) = %q, %q; want %q, %q", tc.in, algo, hex, tc.wantAlgo, tc.wantHex)
			}
			if got, want := IsValidDigest(tc.in), tc.wantErr == nil; got != want {
				t.Errorf("IsValidDigest(%q) = %v, want %v", tc.in, got, want)
			}
		})
	}
}

// D4: tag names are held to what a registry accepts.
func TestIsValidTag(t *testing.T) {
	tests := []struct {
		tag  string
		want bool
	}{
		{"latest", true},
		{"v1.0", true},
		{"V1_0-rc.1", true},
		{"_x", true},
		{"9", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		{".x", false},
		{"-x", false},
		{"a:b", false},
		{"a/b", false},
		{"a@b", false},
		{"a b", false},
		{"latest\n", false},
	}
	for _, tc := range tests {
		if got := IsValidTag(tc.tag); got != tc.want {
			t.Errorf("IsValidTag(%q) = %v, want %v", tc.tag, got, tc.want)
		}
	}
}
