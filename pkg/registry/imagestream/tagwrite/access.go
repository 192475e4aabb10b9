package tagwrite

import (
	"context"
	"fmt"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/streamwriter"
)

// StreamStore reads streams: the imagestreams store, whose errors are named after the resource
// of the request (imagestreamtags, imagetags), as OpenShift's are.
type StreamStore interface {
	rest.Getter
	rest.Lister
}

// Access is how the tag endpoints read streams and images and write streams.
type Access struct {
	Streams StreamStore
	// StreamStrategy applies the spec rules to streams a tag write changes.
	StreamStrategy imagestream.Strategy
	Images         rest.Getter
	Writer         *streamwriter.Writer
	Hostnames      imagestream.RegistryHostnames
}

// Stream reads a stream, decorated as clients see it.
func (a *Access) Stream(ctx context.Context, name string, options *metav1.GetOptions) (*imagev1.ImageStream, error) {
	obj, err := a.Streams.Get(ctx, name, options)
	if err != nil {
		return nil, err
	}
	stream, ok := obj.(*imagev1.ImageStream)
	if !ok {
		return nil, apierrors.NewInternalError(fmt.Errorf("not an ImageStream: %T", obj))
	}
	return stream, nil
}

// Image reads an image.
func (a *Access) Image(ctx context.Context, name string) (*imagev1.Image, error) {
	obj, err := a.Images.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	img, ok := obj.(*imagev1.Image)
	if !ok {
		return nil, apierrors.NewInternalError(fmt.Errorf("not an Image: %T", obj))
	}
	return img, nil
}

// ListStreams lists the streams whose tags a tag list shows: the request's label selector
// (a tag's labels are its stream's) and resourceVersion apply; the field selector is for the
// tags (FieldSelector) and the limit is not honoured: the list is built whole, as OpenShift
// does.
func (a *Access) ListStreams(ctx context.Context, options *metainternalversion.ListOptions) (*imagev1.ImageStreamList, error) {
	streamOptions := &metainternalversion.ListOptions{LabelSelector: labels.Everything()}
	if options != nil {
		if options.LabelSelector != nil {
			streamOptions.LabelSelector = options.LabelSelector
		}
		streamOptions.ResourceVersion = options.ResourceVersion
		streamOptions.ResourceVersionMatch = options.ResourceVersionMatch
	}
	obj, err := a.Streams.List(ctx, streamOptions)
	if err != nil {
		return nil, err
	}
	list, ok := obj.(*imagev1.ImageStreamList)
	if !ok {
		return nil, apierrors.NewInternalError(fmt.Errorf("not an ImageStreamList: %T", obj))
	}
	return list, nil
}

// FieldSelector is the list's field selector for the tags themselves.
func FieldSelector(options *metainternalversion.ListOptions) fields.Selector {
	if options == nil || options.FieldSelector == nil {
		return fields.Everything()
	}
	return options.FieldSelector
}

// Write records change in the stream of the request's namespace through the stream writer
// (or only plans it, for a dry run) and returns the stream as the change left it, decorated.
// Errors are named after resource.
func (a *Access) Write(ctx context.Context, resource schema.GroupResource, streamName string, change *Change, dryRun bool) (*imagev1.ImageStream, error) {
	namespace := genericapirequest.NamespaceValue(ctx)
	change.Strategy = a.StreamStrategy
	var stream *imagev1.ImageStream
	var err error
	if dryRun {
		stream, err = a.Writer.DryRunStream(ctx, namespace, streamName, change)
	} else {
		stream, err = a.Writer.WriteStream(ctx, namespace, streamName, change)
	}
	if err != nil {
		return nil, NameAfter(err, resource, streamName)
	}
	stream = stream.DeepCopy()
	imagestream.SetRepositories(stream, a.Hostnames)
	return stream, nil
}

// DeleteOptions are the parts of a delete's options a tag write honours.
func DeleteOptions(options *metav1.DeleteOptions) (uid *string, dryRun bool) {
	if options == nil {
		return nil, false
	}
	if options.Preconditions != nil && options.Preconditions.UID != nil {
		uid = (*string)(options.Preconditions.UID)
	}
	return uid, len(options.DryRun) > 0
}
