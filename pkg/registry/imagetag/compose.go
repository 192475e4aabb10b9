package imagetag

import (
	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/tagwrite"
)

var resource = imagev1.Resource("imagetags")

// newITag composes the ImageTag of tag as OpenShift does: the stream's metadata under the
// tag's name, the spec tag, the whole history and the head image (metadata derived, manifest
// and config left out, pulled by the reference the reference policy resolves to). A tag that
// is neither in spec nor in status is 404, unless allowEmpty (the answer of a write).
func newITag(tag string, stream *imagev1.ImageStream, img *imagev1.Image, allowEmpty bool) (*imagev1.ImageTag, error) {
	itag := &imagev1.ImageTag{ObjectMeta: *stream.ObjectMeta.DeepCopy()}
	itag.Name = tagwrite.JoinName(stream.Name, tag)
	// The stream's field ownership says nothing about the tag's.
	itag.ManagedFields = nil
	var event *imagev1.TagEvent
	if status := imageutil.StatusTag(stream, tag); status != nil {
		itag.Status = status.DeepCopy()
		if len(status.Items) > 0 {
			event = &status.Items[0]
		}
	}
	if spec := imageutil.SpecTag(stream, tag); spec != nil {
		itag.Spec = spec.DeepCopy()
	}
	if img != nil {
		if err := imageutil.ImageWithMetadata(img); err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		img.DockerImageManifest = ""
		img.DockerImageConfig = ""
		img.DockerImageReference = imageutil.ResolveReferenceForTagEvent(stream, tag, event)
		itag.Image = img
	}
	if !allowEmpty && itag.Spec == nil && itag.Status == nil {
		return nil, apierrors.NewNotFound(resource, itag.Name)
	}
	return itag, nil
}
