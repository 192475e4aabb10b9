package v1

import (
	"fmt"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// ImageStreamSelectableFields are the field-selector keys ImageStream lists accept, as in OpenShift.
// The registry's attribute function lists exactly these, so the two cannot drift.
var ImageStreamSelectableFields = []string{
	"metadata.name",
	"metadata.namespace",
	"spec.dockerImageRepository",
	"status.dockerImageRepository",
}

// ImageSelectableFields are the field-selector keys Image lists accept: only the default name.
var ImageSelectableFields = []string{"metadata.name"}

// AddFieldLabelConversions registers the selectable fields of ImageStream and Image, so that an
// unsupported key is a 400 naming the field instead of a silently empty list.
func AddFieldLabelConversions(scheme *runtime.Scheme) error {
	for kind, fields := range map[string][]string{
		"ImageStream": ImageStreamSelectableFields,
		"Image":       ImageSelectableFields,
	} {
		allowed := map[string]bool{}
		for _, f := range fields {
			allowed[f] = true
		}
		if err := scheme.AddFieldLabelConversionFunc(imagev1.GroupVersion.WithKind(kind),
			func(label, value string) (string, string, error) {
				if allowed[label] {
					return label, value, nil
				}
				return "", "", fmt.Errorf("field label %q is not supported for %s: supported labels are %v", label, kind, fields)
			}); err != nil {
			return err
		}
	}
	return nil
}
