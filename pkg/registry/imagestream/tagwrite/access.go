package tagwrite

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
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
		return nil, streamwriter.NameAfter(err, resource, streamName)
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

// Composer composes a tag object (ImageStreamTag, ImageTag) of the tag from its stream, for a
// write: it may have no image.
type Composer func(stream *imagev1.ImageStream) (runtime.Object, error)

// UpdatedObject runs the update protocol of a tag object: it composes the current object
// from the stream (or from a new stream, which the write will create), applies the client's
// update to it, and prepares and validates the result with strategy — as an update when the
// stream exists, as a create when it does not. It returns the object to write and the
// resourceVersion the client asked for ("" for an unconditional write).
func (a *Access) UpdatedObject(ctx context.Context, resource schema.GroupResource, name, streamName string, objInfo rest.UpdatedObjectInfo,
	strategy rest.RESTCreateUpdateStrategy, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, compose Composer,
) (obj runtime.Object, rv string, err error) {
	stream, err := a.Stream(ctx, streamName, &metav1.GetOptions{})
	exists := err == nil
	switch {
	case apierrors.IsNotFound(err):
		stream = &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: genericapirequest.NamespaceValue(ctx), Name: streamName}}
		rest.FillObjectMetaSystemFields(stream)
	case err != nil:
		return nil, "", err
	}
	old, err := compose(stream)
	if err != nil {
		return nil, "", err
	}
	oldMeta, err := meta.Accessor(old)
	if err != nil {
		return nil, "", apierrors.NewInternalError(err)
	}
	// The old object carries no resourceVersion, so that a patch (which starts from it) is
	// unconditional unless it sets one, as a PUT without one is. A PUT of an object read
	// earlier carries that object's version, which the write then enforces.
	oldMeta.SetResourceVersion("")
	obj, err = objInfo.UpdatedObject(ctx, old)
	if err != nil {
		return nil, "", err
	}
	if reflect.TypeOf(obj) != reflect.TypeOf(old) {
		return nil, "", apierrors.NewBadRequest(fmt.Sprintf("not a %T: %T", old, obj))
	}
	objMeta, err := meta.Accessor(obj)
	if err != nil {
		return nil, "", apierrors.NewBadRequest(err.Error())
	}
	rv = objMeta.GetResourceVersion()
	if !exists && rv != "" {
		return nil, "", apierrors.NewNotFound(resource, name)
	}
	// Clients written before tags carried their stream's labels send none; the labels are the
	// stream's and cannot be changed here.
	if len(stream.Labels) > 0 && len(objMeta.GetLabels()) == 0 {
		objMeta.SetLabels(stream.Labels)
	}
	if !exists {
		if err := PrepareCreate(ctx, strategy, obj, createValidation); err != nil {
			return nil, "", err
		}
		return obj, rv, nil
	}
	// The update rules want a version on both sides; the precondition is rv, checked against
	// the stream the change is applied to.
	objMeta.SetResourceVersion(stream.ResourceVersion)
	oldMeta.SetResourceVersion(stream.ResourceVersion)
	if err := rest.BeforeUpdate(strategy, ctx, obj, old); err != nil {
		return nil, "", err
	}
	if updateValidation != nil {
		if err := updateValidation(ctx, obj.DeepCopyObject(), old.DeepCopyObject()); err != nil {
			return nil, "", err
		}
	}
	return obj, rv, nil
}

// DeleteTag removes tag's spec and history from the stream; its images stay. Admission sees
// the object as composed now.
func (a *Access) DeleteTag(ctx context.Context, resource schema.GroupResource, name, streamName, tag string,
	deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions, compose Composer,
) (runtime.Object, bool, error) {
	if deleteValidation != nil {
		stream, err := a.Stream(ctx, streamName, &metav1.GetOptions{})
		if err != nil {
			return nil, false, err
		}
		current, err := compose(stream)
		if err != nil {
			return nil, false, err
		}
		if err := deleteValidation(ctx, current); err != nil {
			return nil, false, err
		}
	}
	uid, dryRun := DeleteOptions(options)
	change := &Change{
		Description: fmt.Sprintf("the deletion of %s %s", strings.TrimSuffix(resource.Resource, "s"), name),
		Mutate:      Delete(resource, streamName, tag, uid),
	}
	if _, err := a.Write(ctx, resource, streamName, change, dryRun); err != nil {
		return nil, false, err
	}
	return &metav1.Status{Status: metav1.StatusSuccess, Details: &metav1.StatusDetails{Group: resource.Group, Kind: resource.Resource, Name: name}}, true, nil
}

// PrepareCreate does for an object that is not stored as itself what the generic store does
// before a create: system fields, the strategy's preparation and validation, admission.
func PrepareCreate(ctx context.Context, strategy rest.RESTCreateStrategy, obj runtime.Object, createValidation rest.ValidateObjectFunc) error {
	objMeta, err := meta.Accessor(obj)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	rest.FillObjectMetaSystemFields(objMeta)
	if err := rest.BeforeCreate(strategy, ctx, obj); err != nil {
		return err
	}
	if createValidation != nil {
		return createValidation(ctx, obj.DeepCopyObject())
	}
	return nil
}
