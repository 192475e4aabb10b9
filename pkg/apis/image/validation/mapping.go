package validation

import (
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/reference"
)

// ValidateImageStreamMapping validates a mapping on create, before the stream
// is looked up. Tighter than OpenShift: the name must be a valid stream name
// (D3), the tag a valid registry tag (D4), the image name a digest (D5) that
// agrees with the reference's digest (D2). The strategy defaults a missing
// image name from the reference beforehand (D1), so here it is just required.
func ValidateImageStreamMapping(ism *imagev1.ImageStreamMapping) field.ErrorList {
	metaPath := field.NewPath("metadata")
	allErrs := validateStreamMeta(&ism.ObjectMeta, metaPath)

	// Kept from the real server, which reports a missing stream name twice
	// more: v1 has no dockerImageRepository field, but clients may match on
	// these causes.
	if ism.Name == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("name"), ""))
		allErrs = append(allErrs, field.Required(field.NewPath("dockerImageRepository"), ""))
	}
	// Also kept: the real server checks the namespace a second time, so an
	// invalid one yields two causes at the same path.
	if reasons := apimachineryvalidation.ValidateNamespaceName(ism.Namespace, false); len(reasons) != 0 {
		allErrs = append(allErrs, field.Invalid(metaPath.Child("namespace"), ism.Namespace, strings.Join(reasons, ", ")))
	}

	allErrs = append(allErrs, ValidateTagName(ism.Tag, field.NewPath("tag"))...)

	imagePath := field.NewPath("image")
	allErrs = append(allErrs, validateImage(&ism.Image, imagePath)...)
	allErrs = append(allErrs, validateNameMatchesReference(&ism.Image, imagePath)...)
	return allErrs
}

// validateNameMatchesReference implements D2: an image named by
// one digest but pulled by another would make the stream's history lie about
// what the tag points to. It compares only well-formed values; malformed ones
// are already reported by validateImage.
func validateNameMatchesReference(img *imagev1.Image, imagePath *field.Path) field.ErrorList {
	if !reference.IsValidDigest(img.Name) {
		return nil
	}
	ref, err := reference.Parse(img.DockerImageReference)
	if err != nil || ref.ID == "" || ref.ID == img.Name {
		return nil
	}
	return field.ErrorList{field.Invalid(imagePath.Child("metadata", "name"), img.Name,
		"must equal the digest of image.dockerImageReference ("+ref.ID+")")}
}
