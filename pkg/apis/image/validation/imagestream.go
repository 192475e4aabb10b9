package validation

import (
	"fmt"

	imagev1 "github.com/openshift/api/image/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/reference"
)

// ValidateImageStream validates an ImageStream on create, as OpenShift does,
// with stream names limited per D3 and spec tag names per
// D4. Spec and status tags are lists on the wire and in our storage, so the
// uniqueness the real server got from its internal maps is checked here.
func ValidateImageStream(is *imagev1.ImageStream) field.ErrorList {
	metaPath := field.NewPath("metadata")
	allErrs := validateStreamMeta(&is.ObjectMeta, metaPath)
	if len(is.Namespace+"/"+is.Name) > streamPathMaxLength {
		allErrs = append(allErrs, field.Invalid(metaPath.Child("name"), is.Name, fmt.Sprintf("'namespace/name' cannot be longer than %d characters", streamPathMaxLength)))
	}

	if repo := is.Spec.DockerImageRepository; repo != "" {
		repoPath := field.NewPath("spec", "dockerImageRepository")
		ref, err := reference.Parse(repo)
		switch {
		case err != nil:
			allErrs = append(allErrs, field.Invalid(repoPath, repo, err.Error()))
		default:
			if ref.Tag != "" {
				allErrs = append(allErrs, field.Invalid(repoPath, repo, "the repository name may not contain a tag"))
			}
			if ref.ID != "" {
				allErrs = append(allErrs, field.Invalid(repoPath, repo, "the repository name may not contain an ID"))
			}
		}
	}

	tagsPath := field.NewPath("spec", "tags")
	seen := sets.New[string]()
	for i, tag := range is.Spec.Tags {
		p := tagsPath.Index(i)
		allErrs = append(allErrs, ValidateTagName(tag.Name, p.Child("name"))...)
		if tag.Name != "" {
			if seen.Has(tag.Name) {
				allErrs = append(allErrs, field.Duplicate(p.Child("name"), tag.Name))
			}
			seen.Insert(tag.Name)
		}
		allErrs = append(allErrs, ValidateImageStreamTagReference(tag, p)...)
	}

	allErrs = append(allErrs, validateStatusTagNames(is.Status.Tags)...)
	statusPath := field.NewPath("status", "tags")
	for i, tag := range is.Status.Tags {
		for j, item := range tag.Items {
			allErrs = append(allErrs, validateTagEventReference(item.DockerImageReference, statusPath.Index(i).Child("items").Index(j).Child("dockerImageReference"))...)
		}
	}
	return append(allErrs, validateTimes(is, nil)...)
}

// ValidateImageStreamUpdate applies the ObjectMeta update rules and
// validates the new stream in full, as on create: no spec field is immutable.
func ValidateImageStreamUpdate(newIS, oldIS *imagev1.ImageStream) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&newIS.ObjectMeta, &oldIS.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, ValidateImageStream(newIS)...)
}

// ValidateImageStreamStatusUpdate validates an update through
// imagestreams/status, the path ImageStreamMapping uses:
// the ObjectMeta update rules, and only references that are new (absent from
// the old status) are parsed, so a stream whose history holds a reference we
// would now reject can still be updated. Status tag names must stay unique.
func ValidateImageStreamStatusUpdate(newIS, oldIS *imagev1.ImageStream) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&newIS.ObjectMeta, &oldIS.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateStatusTagNames(newIS.Status.Tags)...)

	statusPath := field.NewPath("status", "tags")
	allErrs = append(allErrs, validateNewTagEventReferences(newIS.Status.Tags, oldIS.Status.Tags, statusPath)...)
	// Mappings update status on their hot path, and a stream's history can hold thousands of
	// events: its times are checked directly rather than by walking the whole object.
	allErrs = append(allErrs, validateTimes(&newIS.ObjectMeta, field.NewPath("metadata"))...)
	for i, tag := range newIS.Status.Tags {
		for j, item := range tag.Items {
			if !inJSONRange(item.Created) {
				allErrs = append(allErrs, invalidTime(statusPath.Index(i).Child("items").Index(j).Child("created"), item.Created))
			}
		}
		for j, c := range tag.Conditions {
			if !inJSONRange(c.LastTransitionTime) {
				allErrs = append(allErrs, invalidTime(statusPath.Index(i).Child("conditions").Index(j).Child("lastTransitionTime"), c.LastTransitionTime))
			}
		}
	}
	return allErrs
}

// validateNewTagEventReferences checks the references of the events that are not in the old
// status. A reference found anywhere in the old status is not checked again: a stream keeps
// the references earlier rules accepted, even when an event is copied to another tag.
//
// A mapping adds one event in front of a tag's history, so nearly every event is the old
// tag's event at the same place, shifted by the events added in front: those are recognised
// by comparing the two histories side by side. Any other event's reference is parsed (cheap
// for a registry's pull spec), and only one that fails is looked for among all old references,
// which are gathered the first time that happens.
func validateNewTagEventReferences(tags, oldTags []imagev1.NamedTagEventList, statusPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	oldItems := make(map[string][]imagev1.TagEvent, len(oldTags))
	for _, tag := range oldTags {
		oldItems[tag.Tag] = tag.Items
	}
	var oldRefs sets.Set[string]
	inOldStatus := func(ref string) bool {
		if oldRefs == nil {
			oldRefs = sets.New[string]()
			for _, tag := range oldTags {
				for _, item := range tag.Items {
					oldRefs.Insert(item.DockerImageReference)
				}
			}
		}
		return oldRefs.Has(ref)
	}
	for i, tag := range tags {
		old := oldItems[tag.Tag]
		// added counts the events in front of the old first one.
		added := 0
		if len(old) > 0 {
			for added < len(tag.Items) && tag.Items[added].DockerImageReference != old[0].DockerImageReference {
				added++
			}
		}
		for j, item := range tag.Items {
			if k := j - added; k >= 0 && k < len(old) && old[k].DockerImageReference == item.DockerImageReference {
				continue
			}
			errs := validateTagEventReference(item.DockerImageReference, statusPath.Index(i).Child("items").Index(j).Child("dockerImageReference"))
			if len(errs) > 0 && inOldStatus(item.DockerImageReference) {
				continue
			}
			allErrs = append(allErrs, errs...)
		}
	}
	return allErrs
}

// ValidateImageStreamTagReference validates one spec tag's from, reference
// policy and import policy, as OpenShift does, at fldPath (e.g.
// "spec.tags[0]" or an ImageStreamTag's "tag"). The tag name is not checked;
// see ValidateTagName. The policy types must already be defaulted.
func ValidateImageStreamTagReference(tag imagev1.TagReference, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if from := tag.From; from != nil {
		namePath := fldPath.Child("from", "name")
		if from.Name == "" {
			allErrs = append(allErrs, field.Required(namePath, ""))
		}
		switch from.Kind {
		case "DockerImage":
			if from.Name != "" {
				if _, err := reference.Parse(from.Name); err != nil {
					allErrs = append(allErrs, field.Invalid(namePath, from.Name, err.Error()))
				}
			}
		case "ImageStreamImage", "ImageStreamTag":
			// Only the importer schedules, and it only reads registries.
			if tag.ImportPolicy.Scheduled {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("importPolicy", "scheduled"), tag.ImportPolicy.Scheduled, "only tags pointing to Docker repositories may be scheduled for background import"))
			}
		default:
			allErrs = append(allErrs, field.Required(fldPath.Child("from", "kind"), "valid values are 'DockerImage', 'ImageStreamImage', 'ImageStreamTag'"))
		}
	}

	switch tag.ReferencePolicy.Type {
	case imagev1.SourceTagReferencePolicy, imagev1.LocalTagReferencePolicy:
	default:
		allErrs = append(allErrs, field.Invalid(fldPath.Child("referencePolicy", "type"), tag.ReferencePolicy.Type,
			fmt.Sprintf("valid values are %q, %q", imagev1.SourceTagReferencePolicy, imagev1.LocalTagReferencePolicy)))
	}

	switch tag.ImportPolicy.ImportMode {
	case "", imagev1.ImportModeLegacy, imagev1.ImportModePreserveOriginal:
	default:
		allErrs = append(allErrs, field.Invalid(fldPath.Child("importPolicy", "importMode"), tag.ImportPolicy.ImportMode,
			"invalid import mode, valid modes are '', 'Legacy', 'PreserveOriginal'"))
	}
	return allErrs
}

// validateStreamMeta validates the ObjectMeta of an ImageStream or of an
// ImageStreamMapping (which names a stream). D3: the length
// limit is reported as the standard TooLong error rather than folded into
// the name function's Invalid reasons.
func validateStreamMeta(meta *metav1.ObjectMeta, metaPath *field.Path) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(meta, true, validateStreamNameSyntax, metaPath)
	if len(meta.Name) > StreamNameMaxLength {
		allErrs = append(allErrs, field.TooLong(metaPath.Child("name"), meta.Name, StreamNameMaxLength))
	}
	return allErrs
}

// validateStatusTagNames requires status tag names to be unique: the real
// server's map made duplicates impossible, our list does not.
func validateStatusTagNames(tags []imagev1.NamedTagEventList) field.ErrorList {
	var allErrs field.ErrorList
	seen := sets.New[string]()
	for i, tag := range tags {
		if seen.Has(tag.Tag) {
			allErrs = append(allErrs, field.Duplicate(field.NewPath("status", "tags").Index(i).Child("tag"), tag.Tag))
		}
		seen.Insert(tag.Tag)
	}
	return allErrs
}

// validateTagEventReference requires a history entry's reference and that it
// parses as a pull spec.
func validateTagEventReference(ref string, fldPath *field.Path) field.ErrorList {
	if ref == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	if _, err := reference.Parse(ref); err != nil {
		return field.ErrorList{field.Invalid(fldPath, ref, err.Error())}
	}
	return nil
}
