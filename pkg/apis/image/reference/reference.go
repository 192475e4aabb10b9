package reference

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// NameTotalLengthMax is the longest repository part (registry and path,
// without tag or digest) a pull spec may have, as in distribution and
// OpenShift.
const NameTotalLengthMax = 255

// TagPattern is the syntax of a tag: what a registry accepts after the `:`
// of a pull spec, at most 128 characters. D4 applies it to tag
// names of streams and mappings as well.
const TagPattern = `[\w][\w.-]{0,127}`

// Parse errors, with the real server's texts (clients see them verbatim).
var (
	// ErrNameEmpty is returned for an empty pull spec.
	ErrNameEmpty = errors.New("repository name must have at least one component")
	// ErrNameContainsUppercase is returned when the spec would be valid if it
	// were lowercase.
	ErrNameContainsUppercase = errors.New("repository name must be lowercase")
	// ErrReferenceInvalidFormat is returned for any other syntax error.
	ErrReferenceInvalidFormat = errors.New("invalid reference format")
	// ErrNameTooLong is returned when the repository part exceeds
	// NameTotalLengthMax characters.
	ErrNameTooLong = fmt.Errorf("repository name must not be more than %d characters", NameTotalLengthMax)
)

// The pull-spec grammar of openshift/library-go, assembled from named pieces
// so each rule can be read on its own.
const (
	// component: lowercase alphanumeric runs joined by ".", "_", "__" or any
	// run of "-".
	componentPattern = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
	// host label: alphanumerics and inner hyphens; case is not restricted.
	hostLabelPattern = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	hostPattern      = hostLabelPattern + `(?:\.` + hostLabelPattern + `)*(?::[0-9]+)?`
	namePattern      = `(?:` + hostPattern + `/)?` + componentPattern + `(?:/` + componentPattern + `)*`
)

var (
	// referenceRegexp captures name, tag and digest.
	referenceRegexp = regexp.MustCompile(`^(` + namePattern + `)(?::(` + TagPattern + `))?(?:@(` + DigestPattern + `))?$`)
	tagRegexp       = regexp.MustCompile(`^` + TagPattern + `$`)
)

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

// Parse parses a pull spec `[registry/]component(/component)*[:tag][@digest]`.
// Errors are the ErrName*, ErrReference* and ErrDigest* values, whose texts
// the real server returns.
//
// The first path segment is the registry only if it contains "." or ":" or
// is "localhost". A spec that is a single segment containing "." or starting
// with "localhost" (e.g. "quay.io", "localhost:5000") is a registry alone, with
// no name and no error; its ":..." is the port, not a tag.
func Parse(spec string) (DockerImageReference, error) {
	var ref DockerImageReference

	m := referenceRegexp.FindStringSubmatch(spec)
	if m == nil {
		switch {
		case spec == "":
			return ref, ErrNameEmpty
		case referenceRegexp.MatchString(strings.ToLower(spec)):
			return ref, ErrNameContainsUppercase
		default:
			return ref, ErrReferenceInvalidFormat
		}
	}
	name, tag, id := m[1], m[2], m[3]
	if len(name) > NameTotalLengthMax {
		return ref, ErrNameTooLong
	}
	if id != "" {
		if _, _, err := parseDigest(id, true); err != nil {
			return ref, err
		}
		ref.ID = id
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
	case hasPath && (strings.ContainsAny(first, ".:") || first == "localhost"):
		ref.Registry, name = first, rest
	}
	ref.Tag = tag
	if ns, n, ok := strings.Cut(name, "/"); ok {
		ref.Namespace, ref.Name = ns, n
	} else {
		ref.Name = name
	}
	return ref, nil
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
		if _, _, err := parseDigest(r.ID, true); err == nil {
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
