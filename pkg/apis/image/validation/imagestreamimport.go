package validation

import (
	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/reference"
)

// ValidateImageStreamImport checks an ImageStreamImport as OpenShift does: its name is the
// target stream's (D3 applies), every image comes from a DockerImage pull spec, a target tag
// has a name (D4), a repository import names a repository without tag or digest, and there is
// something to import.
func ValidateImageStreamImport(isi *imagev1.ImageStreamImport) field.ErrorList {
	allErrs := validateStreamMeta(&isi.ObjectMeta, field.NewPath("metadata"))
	specPath := field.NewPath("spec")
	for i, spec := range isi.Spec.Images {
		p := specPath.Child("images").Index(i)
		from := p.Child("from")
		switch {
		case spec.From.Kind != "DockerImage":
			allErrs = append(allErrs, field.Invalid(from.Child("kind"), spec.From.Kind, "only DockerImage is supported"))
		case spec.From.Name == "":
			allErrs = append(allErrs, field.Required(from.Child("name"), "a pull spec such as quay.io/org/app:tag"))
		case spec.From.Name != "*":
			if _, err := reference.Parse(spec.From.Name); err != nil {
				allErrs = append(allErrs, field.Invalid(from.Child("name"), spec.From.Name, err.Error()))
			}
		}
		if spec.To != nil {
			if spec.To.Name == "" {
				allErrs = append(allErrs, field.Required(p.Child("to", "name"), "the name of the target tag must be specified"))
			} else {
				allErrs = append(allErrs, ValidateTagName(spec.To.Name, p.Child("to", "name"))...)
			}
		}
		allErrs = append(allErrs, validateImportMode(spec.ImportPolicy.ImportMode, p.Child("importPolicy", "importMode"))...)
	}
	if repo := isi.Spec.Repository; repo != nil {
		p := specPath.Child("repository", "from")
		switch {
		case repo.From.Kind != "DockerImage":
			allErrs = append(allErrs, field.Invalid(p.Child("kind"), repo.From.Kind, "only DockerImage is supported"))
		case repo.From.Name == "":
			allErrs = append(allErrs, field.Required(p.Child("name"), "a repository such as quay.io/org/app"))
		default:
			ref, err := reference.Parse(repo.From.Name)
			switch {
			case err != nil:
				allErrs = append(allErrs, field.Invalid(p.Child("name"), repo.From.Name, err.Error()))
			case ref.Tag != "" || ref.ID != "":
				allErrs = append(allErrs, field.Invalid(p.Child("name"), repo.From.Name, "you must specify an image repository, not a tag or ID"))
			}
		}
		allErrs = append(allErrs, validateImportMode(repo.ImportPolicy.ImportMode, specPath.Child("repository", "importPolicy", "importMode"))...)
	}
	if len(isi.Spec.Images) == 0 && isi.Spec.Repository == nil {
		allErrs = append(allErrs, field.Invalid(specPath.Child("images"), nil, "you must specify at least one image or a repository import"))
	}
	return allErrs
}

func validateImportMode(mode imagev1.ImportModeType, p *field.Path) field.ErrorList {
	switch mode {
	case "", imagev1.ImportModeLegacy, imagev1.ImportModePreserveOriginal:
		return nil
	}
	return field.ErrorList{field.Invalid(p, mode, "invalid import mode, valid modes are '', 'Legacy', 'PreserveOriginal'")}
}
