package validation

import (
	"fmt"
	"regexp"
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/reference"
)

// Signature condition types. openshift/api v1 does not declare them; the
// values are those of the real server's internal API.
const (
	signatureTrusted  imagev1.SignatureConditionType = "Trusted"
	signatureForImage imagev1.SignatureConditionType = "ForImage"
)

var (
	// manifestDigestRegexp is the syntax a manifest-list entry's digest must
	// have, as in OpenShift; unlike Image names, any algorithm passes.
	manifestDigestRegexp = regexp.MustCompile(`^` + reference.DigestPattern + `$`)
	// mediaTypeRegexp is RFC 6838's type/subtype with restricted-name
	// characters, each part at most 127 characters.
	mediaTypeRegexp = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$`)
)

// ValidateImage validates an Image on create, as OpenShift does, and
// requires its name to be a digest (D5).
func ValidateImage(img *imagev1.Image) field.ErrorList {
	return validateImage(img, nil)
}

// ValidateImageUpdate applies the ObjectMeta update rules and validates the
// new Image in full, as on create (as OpenShift does).
func ValidateImageUpdate(newImg, oldImg *imagev1.Image) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&newImg.ObjectMeta, &oldImg.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, ValidateImage(newImg)...)
}

// validateImage validates img with every path under fldPath: nil for an
// Image itself, "image" for the one embedded in an ImageStreamMapping.
func validateImage(img *imagev1.Image, fldPath *field.Path) field.ErrorList {
	// Images are cluster-scoped; an embedded one with a namespace gets
	// Forbidden.
	allErrs := apimachineryvalidation.ValidateObjectMeta(&img.ObjectMeta, false, ValidateImageName, fldPath.Child("metadata"))

	refPath := fldPath.Child("dockerImageReference")
	if img.DockerImageReference == "" {
		allErrs = append(allErrs, field.Required(refPath, ""))
	} else if _, err := reference.Parse(img.DockerImageReference); err != nil {
		allErrs = append(allErrs, field.Invalid(refPath, img.DockerImageReference, err.Error()))
	}

	for i := range img.Signatures {
		allErrs = append(allErrs, ValidateImageSignature(&img.Signatures[i], fldPath.Child("signatures").Index(i))...)
	}

	if len(img.DockerImageManifests) > 0 {
		allErrs = append(allErrs, validateImageManifests(img.DockerImageManifests, fldPath.Child("dockerImageManifests"))...)
		// A manifest list has no layers of its own; its children do.
		if len(img.DockerImageLayers) > 0 {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("dockerImageLayers"), img.DockerImageLayers, "dockerImageLayers should not be set when dockerImageManifests is set"))
		}
	}
	// Layers, metadata, manifest and config are not validated, as in OpenShift.
	return append(allErrs, validateTimes(img, fldPath)...)
}

// validateImageManifests checks the entries of a manifest list / image index,
// as OpenShift does.
func validateImageManifests(manifests []imagev1.ImageManifest, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, m := range manifests {
		p := fldPath.Index(i)
		if !manifestDigestRegexp.MatchString(m.Digest) {
			allErrs = append(allErrs, field.Invalid(p.Child("digest"), m.Digest, "digest does not conform with OCI image specification"))
		}
		if !mediaTypeRegexp.MatchString(m.MediaType) {
			allErrs = append(allErrs, field.Invalid(p.Child("mediaType"), m.MediaType, "media type does not conform to RFC6838"))
		}
		if m.Architecture == "" {
			allErrs = append(allErrs, field.Required(p.Child("architecture"), ""))
		}
		if m.OS == "" {
			allErrs = append(allErrs, field.Required(p.Child("os"), ""))
		}
		if m.ManifestSize < 0 {
			// The real server reports manifestSize at "size"; keep the path.
			allErrs = append(allErrs, field.Invalid(p.Child("size"), m.ManifestSize, "manifest size cannot be negative"))
		}
	}
	return allErrs
}

// ValidateImageSignature validates a signature, either embedded in an Image
// (fldPath "signatures[i]") or as an ImageSignature object (fldPath nil),
// with OpenShift's rules.
func ValidateImageSignature(sig *imagev1.ImageSignature, fldPath *field.Path) field.ErrorList {
	metaPath := fldPath.Child("metadata")
	allErrs := apimachineryvalidation.ValidateObjectMeta(&sig.ObjectMeta, false, pathSegmentReasons, metaPath)
	if len(sig.Labels) > 0 {
		allErrs = append(allErrs, field.Forbidden(metaPath.Child("labels"), "signature labels cannot be set"))
	}
	if len(sig.Annotations) > 0 {
		allErrs = append(allErrs, field.Forbidden(metaPath.Child("annotations"), "signature annotations cannot be set"))
	}
	if !isSignatureName(sig.Name) {
		allErrs = append(allErrs, field.Invalid(metaPath.Child("name"), sig.Name, "name must be of format <imageName>@<signatureName>"))
	}

	if sig.Type == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("type"), ""))
	}
	if len(sig.Content) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("content"), ""))
	}

	trusted, forImage := signatureConditions(sig.Conditions)
	condPath := fldPath.Child("conditions")
	switch {
	case trusted != nil && forImage == nil:
		allErrs = append(allErrs, field.Invalid(condPath, sig.Conditions, fmt.Sprintf("missing %q condition type", signatureForImage)))
	case forImage != nil && trusted == nil:
		allErrs = append(allErrs, field.Invalid(condPath, sig.Conditions, fmt.Sprintf("missing %q condition type", signatureTrusted)))
	}

	// Only a verified signature may carry what verification extracted.
	if trusted == nil || trusted.Status == corev1.ConditionUnknown {
		const unknown = "must be unset for unknown signature state"
		if sig.ImageIdentity != "" {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("imageIdentity"), sig.ImageIdentity, unknown))
		}
		if len(sig.SignedClaims) != 0 {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("signedClaims"), sig.SignedClaims, unknown))
		}
		if sig.IssuedBy != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("issuedBy"), sig.IssuedBy, unknown))
		}
		if sig.IssuedTo != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("issuedTo"), sig.IssuedTo, unknown))
		}
	}
	return allErrs
}

// signatureConditions picks the most recently probed Trusted condition and
// the ForImage one. Kept from the real server: an
// operator-precedence slip there makes every non-Trusted condition a
// ForImage candidate, so e.g. [Trusted, Foo] passes. (Where the real server
// would dereference nil instead, we just take the condition.)
func signatureConditions(conds []imagev1.SignatureCondition) (trusted, forImage *imagev1.SignatureCondition) {
	for i := range conds {
		c := &conds[i]
		if c.Type == signatureTrusted && (trusted == nil || !c.LastProbeTime.Before(&trusted.LastProbeTime)) {
			trusted = c
		} else if forImage == nil || !c.LastProbeTime.Before(&forImage.LastProbeTime) {
			forImage = c
		}
	}
	return trusted, forImage
}

// isSignatureName reports whether name is "<imageName>@<signatureName>" with
// both parts non-empty and exactly one "@".
func isSignatureName(name string) bool {
	img, sig, ok := strings.Cut(name, "@")
	return ok && img != "" && sig != "" && !strings.Contains(sig, "@")
}
