package reference

import (
	"errors"
	"regexp"
	"strings"

	distreference "github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// NameTotalLengthMax is the longest repository part (registry and path,
// without tag or digest) a pull spec may have, as in OpenShift.
const NameTotalLengthMax = distreference.NameTotalLengthMax

// TagPattern is the syntax of a tag: what a registry accepts after the `:`
// of a pull spec, at most 128 characters. D4 applies it to tag names of
// streams and mappings as well. It is distribution's tag grammar, kept as a
// constant because it is quoted in a validation message clients see; a test
// checks that it still equals the library's.
const TagPattern = `[\w][\w.-]{0,127}`

// Parse errors. They are distribution's own values, whose texts are those of
// the real server (clients see them verbatim), so errors.Is matches either
// name.
var (
	// ErrNameEmpty is returned for an empty pull spec.
	ErrNameEmpty = distreference.ErrNameEmpty
	// ErrNameContainsUppercase is returned when the spec would be valid if it
	// were lowercase.
	ErrNameContainsUppercase = distreference.ErrNameContainsUppercase
	// ErrReferenceInvalidFormat is returned for any other syntax error.
	ErrReferenceInvalidFormat = distreference.ErrReferenceInvalidFormat
	// ErrNameTooLong is returned when the repository part exceeds
	// NameTotalLengthMax characters.
	ErrNameTooLong = distreference.ErrNameTooLong
)

// tagRegexp is TagPattern anchored (distribution does not export its own).
var tagRegexp = regexp.MustCompile(`^(?:` + TagPattern + `)$`)

// DockerImageReference is a parsed pull spec. Namespace is the first path
// segment after the registry when there are at least two; Name holds the
// rest (so `a/b/c` has Namespace "a" and Name "b/c"). ID is the digest.
type DockerImageReference struct {
	Registry  string
	Namespace string
	Name      string
	Tag       string
	ID        string
}

// Parse parses a pull spec `[registry/]component(/component)*[:tag][@digest]`
// as OpenShift does. Errors are the ErrName*, ErrReference* and ErrDigest*
// values, whose texts the real server returns.
//
// The grammar, the uppercase check and the digest check are distribution's
// reference.Parse (never its ParseNormalizedNamed: "redis" stays "redis", no
// docker.io/library is added). OpenShift's own rules are applied on top:
//
//   - The first path segment is the registry only if it contains "." or ":"
//     or is "localhost" (distribution would take any first segment of two,
//     e.g. "a" of "a/b", for a domain). A spec that is a single segment
//     containing "." or starting with "localhost" (e.g. "quay.io",
//     "localhost:5000") is a registry alone, with no name and no error; its
//     ":..." is the port, not a tag.
//   - The 255-character limit applies to the whole repository, registry
//     included; distribution counts only the path after its domain.
//   - IPv6 literal hosts (`[fd00::1]:5000/ns/app`) are accepted, as by
//     distribution, go-containerregistry and the container runtimes, though
//     OpenShift's older copy of the grammar has none: the server accepts an
//     IPv6 --registry-hostname and builds stream repositories and mapping
//     references from it, which it must not then refuse. Nothing OpenShift
//     accepts is refused.
//   - Digest hex may be uppercase: OpenShift's pull-spec grammar admits it,
//     while go-digest (which distribution applies) wants lowercase. Only
//     stand-alone digests (ParseDigest) are held to lowercase (D5).
func Parse(spec string) (DockerImageReference, error) {
	if r, ok := memo.get(spec); ok {
		return r.ref, r.err
	}
	ref, err := parse(spec)
	memo.put(spec, parseResult{ref: ref, err: err})
	return ref, err
}

func parse(spec string) (DockerImageReference, error) {
	if ref, ok := parseCommon(spec); ok {
		return ref, nil
	}
	return parseWithGrammar(spec)
}

// parseWithGrammar parses spec with distribution's grammar, and go-digest for the digest.
func parseWithGrammar(spec string) (DockerImageReference, error) {
	var ref DockerImageReference
	parsed, err := distreference.Parse(spec)
	var id string
	if isDigestError(err) {
		// The grammar matched, so the spec ends in "@digest": check the name
		// and tag alone first, then the digest as OpenShift does.
		at := strings.LastIndexByte(spec, '@')
		id = spec[at+1:]
		parsed, err = distreference.Parse(spec[:at])
	}
	if err != nil {
		return ref, err
	}
	named, ok := parsed.(distreference.Named)
	if !ok {
		// Unreachable: the grammar requires a name.
		return ref, ErrReferenceInvalidFormat
	}
	name := named.Name()
	if len(name) > NameTotalLengthMax {
		return ref, ErrNameTooLong
	}
	if id != "" {
		if err := validatePullSpecDigest(id); err != nil {
			return ref, err
		}
	} else if d, ok := parsed.(distreference.Digested); ok {
		id = d.Digest().String()
	}
	ref.ID = id
	var tag string
	if t, ok := parsed.(distreference.Tagged); ok {
		tag = t.Tag()
	}

	first, rest, hasPath := strings.Cut(name, "/")
	switch {
	case !hasPath && (strings.Contains(name, ".") || strings.HasPrefix(name, "localhost")):
		// Registry only: what the grammar took for a tag is the port.
		ref.Registry = name
		if tag != "" {
			ref.Registry += ":" + tag
		}
		return ref, nil
	case hasPath && looksLikeRegistry(first):
		ref.Registry, name = first, rest
	}
	ref.Tag = tag
	ref.setPath(name)
	return ref, nil
}

// looksLikeRegistry reports whether the first component of a name is a registry rather than
// a namespace: it has a dot or a port, or is localhost, as in OpenShift and docker.
func looksLikeRegistry(first string) bool {
	return strings.ContainsAny(first, ".:") || first == "localhost"
}

// setPath sets Namespace and Name from the repository path after the registry: the first
// segment is the namespace when there are at least two.
func (r *DockerImageReference) setPath(path string) {
	if ns, n, ok := strings.Cut(path, "/"); ok {
		r.Namespace, r.Name = ns, n
	} else {
		r.Name = path
	}
}

// isDigestError reports whether err is go-digest's verdict on the digest of a
// spec whose grammar distribution accepted.
func isDigestError(err error) bool {
	return err != nil && (errors.Is(err, digest.ErrDigestInvalidFormat) ||
		errors.Is(err, digest.ErrDigestInvalidLength) ||
		errors.Is(err, digest.ErrDigestUnsupported))
}

// IsValidTag reports whether tag fully matches TagPattern.
func IsValidTag(tag string) bool {
	return tagRegexp.MatchString(tag)
}

// DigestOrTag returns the ID if set, else the tag.
func (r DockerImageReference) DigestOrTag() string {
	if r.ID != "" {
		return r.ID
	}
	return r.Tag
}

// AsRepository returns r without tag and ID.
func (r DockerImageReference) AsRepository() DockerImageReference {
	r.Tag, r.ID = "", ""
	return r
}

// RepositoryName returns `[registry/][namespace/]name`, without tag or ID.
func (r DockerImageReference) RepositoryName() string {
	return r.AsRepository().Exact()
}

// Exact renders r without adding any defaults: `[registry/][namespace/]name`
// followed by `@id` when the ID is a digest, `:id` when it is some other
// (legacy v1) id, else `:tag` when a tag is set. A reference with a registry
// but no name renders as the registry alone (plus `@id`), which is what Parse
// produced it from.
func (r DockerImageReference) Exact() string {
	var suffix string
	switch {
	case r.ID != "":
		if validatePullSpecDigest(r.ID) == nil {
			suffix = "@" + r.ID
		} else {
			suffix = ":" + r.ID
		}
	case r.Tag != "":
		suffix = ":" + r.Tag
	}

	if r.Name == "" {
		if r.Registry == "" {
			return ""
		}
		if strings.HasPrefix(suffix, "@") {
			return r.Registry + suffix
		}
		return r.Registry
	}

	var b strings.Builder
	if r.Registry != "" {
		b.WriteString(r.Registry)
		b.WriteByte('/')
	}
	if r.Namespace != "" {
		b.WriteString(r.Namespace)
		b.WriteByte('/')
	}
	b.WriteString(r.Name)
	b.WriteString(suffix)
	return b.String()
}
