package imagestreamimport

import (
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/streamwriter"
)

// repositoryCheckAnnotation records when the stream was last imported into.
const repositoryCheckAnnotation = "openshift.io/image.dockerRepositoryCheck"

// outcome is one imported (or failed) tag of the import, as the stream records it.
type outcome struct {
	tag string
	// from is the spec tag's source on success (the pull spec as requested).
	from            string
	importPolicy    imagev1.TagImportPolicy
	referencePolicy imagev1.TagReferencePolicy
	// image and children are written on success (children first); status is the failure.
	image    *imagev1.Image
	children []*imagev1.Image
	status   metav1.Status
	// fromRepository marks a tag found in spec.repository rather than named in spec.images.
	fromRepository bool
}

// mutate records the outcomes in the stream, as OpenShift's import does: a success whose image
// is not the tag's head already points the tag at it (the spec tag reset to its source), a failure
// adds an ImportSuccess=False condition; the images are created with the stream. It reports
// whether the stream changed; an unchanged stream that was imported into before is not
// written at all.
func mutate(outcomes []outcome, stream *imagev1.ImageStream, tx *streamwriter.Tx) bool {
	next := stream.Generation + 1
	changed := false
	for _, o := range outcomes {
		if o.image != nil {
			for _, child := range o.children {
				tx.EnsureImage(child)
			}
			tx.EnsureImage(o.image)
			changed = recordSuccess(stream, o, next, tx.Now) || changed
		} else {
			changed = recordFailure(stream, o, next, tx.Now) || changed
		}
	}
	if _, ok := stream.Annotations[repositoryCheckAnnotation]; !ok || changed {
		if stream.Annotations == nil {
			stream.Annotations = map[string]string{}
		}
		stream.Annotations[repositoryCheckAnnotation] = tx.Now.UTC().Format(time.RFC3339)
		changed = true
	}
	return changed
}

func recordSuccess(stream *imagev1.ImageStream, o outcome, next int64, now metav1.Time) bool {
	event := imagev1.TagEvent{Created: now, DockerImageReference: o.image.DockerImageReference, Image: o.image.Name, Generation: next}
	spec := imageutil.SpecTag(stream, o.tag)
	head := imageutil.LatestTagEvent(stream, o.tag)
	changed := false
	if head == nil || head.Image != event.Image || head.DockerImageReference != event.DockerImageReference ||
		spec == nil || spec.Generation == nil || *spec.Generation > head.Generation {
		// The tag now follows what was imported; generation 0 gives it the stream's next one.
		ref := imagev1.TagReference{
			Name: o.tag, From: &corev1.ObjectReference{Kind: "DockerImage", Name: o.from},
			Generation: ptr.To[int64](0), ReferencePolicy: o.referencePolicy,
		}
		if spec != nil {
			ref.Annotations = spec.Annotations
			if spec.ReferencePolicy.Type != "" {
				ref.ReferencePolicy = spec.ReferencePolicy
			}
		}
		setSpecTag(stream, ref)
		spec = imageutil.SpecTag(stream, o.tag)
		if imageutil.AddTagEventToImageStream(stream, o.tag, event) {
			imageutil.UpdateTrackingTags(stream, o.tag, event)
		}
		changed = true
	}
	if spec.ImportPolicy != o.importPolicy {
		spec.ImportPolicy = o.importPolicy
		changed = true
	}
	if st := imageutil.StatusTag(stream, o.tag); st != nil && len(st.Conditions) > 0 {
		st.Conditions = nil
		changed = true
	}
	return changed
}

// recordFailure records the failure as the tag's ImportSuccess=False condition, unless the
// same failure is recorded already (a repeated failure does not rewrite the stream), and
// makes sure a tag that spec.images named exists in spec.
func recordFailure(stream *imagev1.ImageStream, o outcome, next int64, now metav1.Time) bool {
	message := o.status.Message
	if message == "" {
		message = "unknown error prevented import"
	}
	cond := imagev1.TagEventCondition{
		Type: imagev1.ImportSuccess, Status: corev1.ConditionFalse, Reason: string(o.status.Reason),
		Message: message, Generation: next, LastTransitionTime: now,
	}
	st := imageutil.StatusTag(stream, o.tag)
	if st != nil {
		for _, c := range st.Conditions {
			if c.Type == cond.Type && c.Status == cond.Status && c.Reason == cond.Reason && c.Message == cond.Message {
				return false
			}
		}
	}
	if st == nil {
		stream.Status.Tags = append(stream.Status.Tags, imagev1.NamedTagEventList{Tag: o.tag})
		imageutil.SortTags(stream)
		st = imageutil.StatusTag(stream, o.tag)
	}
	// The newest failure replaces what an earlier one recorded.
	st.Conditions = []imagev1.TagEventCondition{cond}
	spec := imageutil.SpecTag(stream, o.tag)
	if spec == nil && o.from != "" && !o.fromRepository {
		setSpecTag(stream, imagev1.TagReference{
			Name: o.tag, From: &corev1.ObjectReference{Kind: "DockerImage", Name: o.from},
			ImportPolicy: o.importPolicy, ReferencePolicy: o.referencePolicy,
		})
		spec = imageutil.SpecTag(stream, o.tag)
	}
	if spec != nil {
		// A new generation records that this failure is the answer to the current spec.
		spec.Generation = ptr.To[int64](0)
	}
	return true
}

func setSpecTag(stream *imagev1.ImageStream, ref imagev1.TagReference) {
	if existing := imageutil.SpecTag(stream, ref.Name); existing != nil {
		*existing = ref
		return
	}
	stream.Spec.Tags = append(stream.Spec.Tags, ref)
	imageutil.SortTags(stream)
}
