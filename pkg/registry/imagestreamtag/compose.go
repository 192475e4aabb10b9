package imagestreamtag

import (
	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/tagwrite"
)

var resource = imagev1.Resource("imagestreamtags")

// newISTag composes the ImageStreamTag of tag from its stream and the image its newest event
// points to, as OpenShift does: the object carries the stream's resourceVersion, UID and
// labels, the spec tag (annotations included) and the tag's conditions; its image is the full
// Image with metadata derived and the manifest and config left out, pulled by the reference
// the tag's reference policy resolves to. img nil leaves only the image's name. A tag without
// an image is 404, unless allowEmpty (the answer of a write, whose tag may not point to an
// image yet).
func newISTag(tag string, stream *imagev1.ImageStream, img *imagev1.Image, allowEmpty bool) (*imagev1.ImageStreamTag, error) {
	name := tagwrite.JoinName(stream.Name, tag)
	event := imageutil.LatestTagEvent(stream, tag)
	if event == nil || event.Image == "" {
		if !allowEmpty {
			return nil, apierrors.NewNotFound(resource, name)
		}
		event = &imagev1.TagEvent{Created: stream.CreationTimestamp}
	}
	ist := &imagev1.ImageStreamTag{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:         stream.Namespace,
			Name:              name,
			CreationTimestamp: event.Created,
			Annotations:       map[string]string{},
			Labels:            stream.Labels,
			ResourceVersion:   stream.ResourceVersion,
			UID:               stream.UID,
		},
		Generation:   event.Generation,
		LookupPolicy: stream.Spec.LookupPolicy,
	}
	if status := imageutil.StatusTag(stream, tag); status != nil {
		ist.Conditions = status.Conditions
	}
	if spec := imageutil.SpecTag(stream, tag); spec != nil {
		ist.Tag = spec.DeepCopy()
		for k, v := range spec.Annotations {
			ist.Annotations[k] = v
		}
	}
	if img != nil {
		if err := imageutil.ImageWithMetadata(img); err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		img.DockerImageManifest = ""
		img.DockerImageConfig = ""
		if ist.Tag != nil && len(ist.Tag.Annotations) > 0 {
			if img.Annotations == nil {
				img.Annotations = map[string]string{}
			}
			for k, v := range ist.Tag.Annotations {
				img.Annotations[k] = v
			}
		}
		ist.Image = *img
	} else {
		ist.Image.Name = event.Image
	}
	ist.Image.DockerImageReference = imageutil.ResolveReferenceForTagEvent(stream, tag, event)
	return ist, nil
}
