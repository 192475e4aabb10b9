package validation

import (
	"fmt"
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// tagObjectNameMessage says what to write instead of a malformed ImageStreamTag or ImageTag
// name. OpenShift accepts such a name on create and then fails with a 500.
const tagObjectNameMessage = "must be of the form <stream>:<tag>, e.g. ruby:latest"

// ValidateTagObjectName is the metav1 name function of ImageStreamTags and ImageTags: the name
// is "<stream>:<tag>" where the stream part is a valid stream name (D3) and the tag part a
// valid tag (D4), since the object is that tag of that stream.
func ValidateTagObjectName(name string, prefix bool) []string {
	if prefix {
		return []string{"generateName is not supported: " + tagObjectNameMessage}
	}
	if reasons := pathSegmentReasons(name, false); len(reasons) != 0 {
		return reasons
	}
	stream, tag, found := strings.Cut(name, ":")
	if !found || stream == "" || tag == "" || strings.Contains(tag, ":") {
		return []string{tagObjectNameMessage}
	}
	var reasons []string
	for _, r := range ValidateImageStreamName(stream, false) {
		reasons = append(reasons, fmt.Sprintf("the stream name %q %s", stream, r))
	}
	if !validTag(tag) {
		reasons = append(reasons, fmt.Sprintf("the tag %q %s", tag, tagNameMessage))
	}
	return reasons
}

func validTag(tag string) bool {
	return len(ValidateTagName(tag, field.NewPath("tag"))) == 0
}

// ValidateImageStreamTag checks an ImageStreamTag on create: its name, and its tag reference
// with OpenShift's rules. Tag annotations, if given, must equal the object's annotations:
// the object's annotations are the tag's.
func ValidateImageStreamTag(ist *imagev1.ImageStreamTag) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&ist.ObjectMeta, true, ValidateTagObjectName, field.NewPath("metadata"))
	return append(allErrs, validateISTagReference(ist)...)
}

// ValidateImageStreamTagUpdate checks an ImageStreamTag update: the metadata update rules and
// the tag reference; of the object, only the annotations, the tag, the lookup policy and the
// generation may change (the rest is composed from the stream and its image).
func ValidateImageStreamTagUpdate(newIST, oldIST *imagev1.ImageStreamTag) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&newIST.ObjectMeta, &oldIST.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateISTagReference(newIST)...)
	newCopy, oldCopy := *newIST, *oldIST
	newCopy.Annotations, oldCopy.Annotations = nil, nil
	newCopy.Tag, oldCopy.Tag = nil, nil
	newCopy.LookupPolicy = oldCopy.LookupPolicy
	newCopy.Generation = oldCopy.Generation
	newCopy.TypeMeta, oldCopy.TypeMeta = metav1.TypeMeta{}, metav1.TypeMeta{}
	// The metadata update rules above cover the fields they govern.
	newCopy.ObjectMeta, oldCopy.ObjectMeta = metaCompared(newIST.ObjectMeta), metaCompared(oldIST.ObjectMeta)
	if !equality.Semantic.DeepEqual(&newCopy, &oldCopy) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("metadata"), "", "may not update fields other than metadata.annotations, tag and lookupPolicy"))
	}
	return allErrs
}

// metaCompared is the part of an ImageStreamTag's metadata that an update may not change:
// the labels are the stream's.
func metaCompared(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Labels: m.Labels}
}

func validateISTagReference(ist *imagev1.ImageStreamTag) field.ErrorList {
	if ist.Tag == nil {
		return nil
	}
	tagPath := field.NewPath("tag")
	allErrs := ValidateImageStreamTagReference(*ist.Tag, tagPath)
	if ist.Tag.Annotations != nil && !equality.Semantic.DeepEqual(ist.Tag.Annotations, ist.Annotations) {
		allErrs = append(allErrs, field.Invalid(tagPath.Child("annotations"), "<map>", "tag annotations must not be provided or must be equal to the object meta annotations"))
	}
	return allErrs
}

// ValidateImageTag checks an ImageTag on create: spec is required, its name must be the tag
// of the object's name, and its reference follows OpenShift's rules.
func ValidateImageTag(itag *imagev1.ImageTag) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&itag.ObjectMeta, true, ValidateTagObjectName, field.NewPath("metadata"))
	if itag.Spec == nil {
		return append(allErrs, field.Required(field.NewPath("spec"), "spec is a required field during creation"))
	}
	return append(allErrs, validateITagSpec(itag)...)
}

// ValidateImageTagUpdate checks an ImageTag update: only spec may change; a null spec removes
// the spec tag.
func ValidateImageTagUpdate(newITag, oldITag *imagev1.ImageTag) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&newITag.ObjectMeta, &oldITag.ObjectMeta, field.NewPath("metadata"))
	if newITag.Spec != nil {
		allErrs = append(allErrs, validateITagSpec(newITag)...)
	}
	if !equality.Semantic.DeepEqual(comparableMeta(newITag.ObjectMeta), comparableMeta(oldITag.ObjectMeta)) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("metadata"), "", "may not update fields other than spec"))
	}
	if !equality.Semantic.DeepEqual(newITag.Status, oldITag.Status) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("status"), "", "may not update fields other than spec"))
	}
	return allErrs
}

// comparableMeta drops what every update may carry differently: the resourceVersion (the
// precondition), managed fields and the server-set fields.
func comparableMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	m.ResourceVersion = ""
	m.ManagedFields = nil
	m.Generation = 0
	m.CreationTimestamp = metav1.Time{}
	return m
}

func validateITagSpec(itag *imagev1.ImageTag) field.ErrorList {
	var allErrs field.ErrorList
	specPath := field.NewPath("spec")
	if _, tag, found := strings.Cut(itag.Name, ":"); !found || itag.Spec.Name != tag {
		allErrs = append(allErrs, field.Invalid(specPath.Child("name"), itag.Spec.Name, "must match image tag name"))
	}
	return append(allErrs, ValidateImageStreamTagReference(*itag.Spec, specPath)...)
}
