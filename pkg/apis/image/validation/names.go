// Package validation checks image.openshift.io/v1 objects before they are
// stored. It follows the real OpenShift server except where one of the
// README's decisions (D1–D5) tightens a rule; those places cite the decision id.
package validation

import (
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/reference"
)

// StreamNameMaxLength is the longest ImageStream (and so ImageStreamMapping)
// name we accept. D3: the documented 63, which the real server
// never enforced.
const StreamNameMaxLength = 63

// StreamNamePattern is the syntax of an ImageStream name: a single registry
// path component with single separators, as OpenShift requires.
const StreamNamePattern = `[a-z0-9]+(?:[._-][a-z0-9]+)*`

// streamPathMaxLength bounds "namespace/name" so the stream always yields a
// valid pull spec, as OpenShift does. With D3's 63 and a 63-char namespace it
// cannot trigger; it is kept so the rule survives any change to D3.
const streamPathMaxLength = reference.NameTotalLengthMax

var streamNameRegexp = regexp.MustCompile(`^` + StreamNamePattern + `$`)

// imageNameDigestMessage is the detail for a non-digest Image name (D5).
const imageNameDigestMessage = "must be a digest: sha256:<64 hex>, sha384:<96 hex> or sha512:<128 hex>"

// tagNameMessage explains D4 in terms a user can act on.
var tagNameMessage = fmt.Sprintf("must match %q: a registry accepts tags of 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'", reference.TagPattern)

// ValidateImageStreamName is the metav1 name function for ImageStreams:
// path-segment rules, at most StreamNameMaxLength characters (D3) and a full
// match of StreamNamePattern. It returns the reasons the name
// is invalid, as ValidateObjectMeta expects.
func ValidateImageStreamName(name string, prefix bool) []string {
	reasons := validateStreamNameSyntax(name, prefix)
	if len(reasons) == 0 && len(name) > StreamNameMaxLength {
		reasons = append(reasons, fmt.Sprintf("may not be more than %d bytes", StreamNameMaxLength))
	}
	return reasons
}

// validateStreamNameSyntax is ValidateImageStreamName without the length
// limit: ObjectMeta validation reports every name reason as Invalid, but D3
// wants the standard TooLong error, so the length is checked separately by
// validateStreamMeta.
func validateStreamNameSyntax(name string, prefix bool) []string {
	if reasons := pathSegmentReasons(name, prefix); len(reasons) != 0 {
		return reasons
	}
	candidate := name
	if prefix && name != "" && strings.ContainsRune("._-", rune(name[len(name)-1])) {
		// A generateName such as "app-" is followed by a generated alphanumeric
		// suffix, so it may end in one separator (as apimachinery's prefix
		// checks allow a trailing dash); the generated name is validated too.
		candidate += "a"
	}
	if !streamNameRegexp.MatchString(candidate) {
		return []string{fmt.Sprintf("must match %q", StreamNamePattern)}
	}
	return nil
}

// ValidateImageName is the metav1 name function for Images: path-segment
// rules, and the name must be a digest (D5: images are
// content-addressed, so their name is what they are addressed by).
func ValidateImageName(name string, prefix bool) []string {
	if reasons := pathSegmentReasons(name, prefix); len(reasons) != 0 {
		return reasons
	}
	// A generated name (prefix) can never be a digest either, so prefixes
	// get the same check.
	if !reference.IsValidDigest(name) {
		return []string{imageNameDigestMessage}
	}
	return nil
}

// ValidateTagName checks a stream tag name (spec tag or mapping tag) against
// reference.TagPattern: D4, so every tag we store can be pulled.
func ValidateTagName(name string, fldPath *field.Path) field.ErrorList {
	switch {
	case name == "":
		return field.ErrorList{field.Required(fldPath, "")}
	case !reference.IsValidTag(name):
		return field.ErrorList{field.Invalid(fldPath, name, tagNameMessage)}
	}
	return nil
}

// pathSegmentReasons applies the generic rule for names that end up in a
// URL path: not "." or "..", no "/" or "%".
func pathSegmentReasons(name string, prefix bool) []string {
	if prefix {
		return content.IsPathSegmentPrefix(name)
	}
	return content.IsPathSegmentName(name)
}
