package imagestreammapping

import (
	"fmt"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/apis/image/reference"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/streamwriter"
)

// mappingChange is a validated mapping as a change to its stream: its image exists once the
// transaction commits (created if new, never modified if not), and its tag gets the event.
type mappingChange struct {
	tag string
	// image is the Image to create, as validated; never modified.
	image   *imagev1.Image
	managed bool
}

var _ streamwriter.Change = &mappingChange{}

// Apply implements streamwriter.Change.
func (c *mappingChange) Apply(stream *imagev1.ImageStream, tx *streamwriter.Tx) (bool, error) {
	existed := tx.EnsureImage(c.image)
	return addTagEvent(stream, c.tag, tagEventFor(stream, c.image, c.managed, existed, tx.Now)), nil
}

// String implements streamwriter.Change.
func (c *mappingChange) String() string {
	return fmt.Sprintf("the mapping of image %s to tag %s", c.image.Name, c.tag)
}

// tagEventFor is the event a mapping adds. Its reference is the image's own, except for an
// image of the integrated registry (annotated openshift.io/image.managed) that existed
// before: the same content pushed to another stream is pulled from that stream's repository,
// so the event points there, as OpenShift does.
func tagEventFor(stream *imagev1.ImageStream, img *imagev1.Image, managed, imageExisted bool, now metav1.Time) imagev1.TagEvent {
	ref := img.DockerImageReference
	if imageExisted && managed {
		repo := stream.Status.DockerImageRepository
		if repo == "" {
			repo = stream.Spec.DockerImageRepository
		}
		if parsed, err := reference.Parse(repo); repo != "" && err == nil {
			ref = parsed.RepositoryName() + "@" + img.Name
		}
	}
	return imagev1.TagEvent{Created: now, DockerImageReference: ref, Image: img.Name, Generation: stream.Generation}
}

// addTagEvent records next as tag's newest event and reports whether the stream changed. An
// event equal to the head is not added again, so a retried mapping records nothing twice;
// tags that track this one follow it.
func addTagEvent(stream *imagev1.ImageStream, tag string, next imagev1.TagEvent) bool {
	if !imageutil.AddTagEventToImageStream(stream, tag, next) {
		return false
	}
	imageutil.UpdateTrackingTags(stream, tag, next)
	return true
}
