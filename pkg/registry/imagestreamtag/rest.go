// Package imagestreamtag serves imagestreamtags (istag): a tag of a stream, composed from the
// stream and the image the tag points to. Writes change the stream's spec tag (and, on delete,
// its history) through the stream writer: one transaction, no conflicts between writers (D15).
package imagestreamtag

import (
	"context"
	"fmt"
	"slices"
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/streamwriter"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/tagwrite"
)

// REST is the imagestreamtags storage.
type REST struct {
	access   *tagwrite.Access
	strategy Strategy
	TableConvertor
}

var (
	_ rest.Getter               = &REST{}
	_ rest.Lister               = &REST{}
	_ rest.CreaterUpdater       = &REST{}
	_ rest.GracefulDeleter      = &REST{}
	_ rest.ShortNamesProvider   = &REST{}
	_ rest.SingularNameProvider = &REST{}
	_ rest.Scoper               = &REST{}
	_ rest.TableConvertor       = &REST{}
)

// NewREST returns the ImageStreamTag storage.
func NewREST(typer runtime.ObjectTyper, access *tagwrite.Access) *REST {
	return &REST{access: access, strategy: NewStrategy(typer)}
}

// New returns an empty ImageStreamTag.
func (r *REST) New() runtime.Object { return &imagev1.ImageStreamTag{} }

// NewList returns an empty list.
func (r *REST) NewList() runtime.Object { return &imagev1.ImageStreamTagList{} }

// Destroy does nothing: the stores and the writer are owned by the server.
func (r *REST) Destroy() {}

// NamespaceScoped is true.
func (r *REST) NamespaceScoped() bool { return true }

// ShortNames lets `kubectl get istag` work, as with oc.
func (r *REST) ShortNames() []string { return []string{"istag"} }

// GetSingularName is imagestreamtag.
func (r *REST) GetSingularName() string { return "imagestreamtag" }

// splitName parses "<stream>:<tag>" with OpenShift's 400 for anything else.
func splitName(name string) (string, string, error) {
	stream, tag, ok := tagwrite.SplitName(name)
	if !ok {
		return "", "", apierrors.NewBadRequest(fmt.Sprintf("ImageStreamTags must be retrieved with <name>:<tag>, not %q", name))
	}
	return stream, tag, nil
}

// Get returns the tag with its image.
func (r *REST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	streamName, tag, err := splitName(name)
	if err != nil {
		return nil, err
	}
	stream, err := r.access.Stream(ctx, streamName, options)
	if err != nil {
		return nil, err
	}
	event := imageutil.LatestTagEvent(stream, tag)
	if event == nil || event.Image == "" {
		return nil, apierrors.NewNotFound(resource, name)
	}
	img, err := r.access.Image(ctx, event.Image)
	if err != nil {
		return nil, err
	}
	return newISTag(tag, stream, img, false)
}

// List returns every tag with an image of the streams that match, sorted by name; each item's
// image has only its name and pull spec. The label selector selects streams (a tag's labels
// are its stream's); the field selector (metadata.name, metadata.namespace) selects tags.
func (r *REST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	streams, err := r.access.ListStreams(ctx, options)
	if err != nil {
		return nil, err
	}
	fieldSelector := tagwrite.FieldSelector(options)
	list := &imagev1.ImageStreamTagList{ListMeta: metav1.ListMeta{ResourceVersion: streams.ResourceVersion}}
	for i := range streams.Items {
		stream := &streams.Items[i]
		for _, status := range stream.Status.Tags {
			ist, err := newISTag(status.Tag, stream, nil, false)
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if fieldSelector.Matches(generic.ObjectMetaFieldsSet(&ist.ObjectMeta, true)) {
				list.Items = append(list.Items, *ist)
			}
		}
	}
	slices.SortFunc(list.Items, func(a, b imagev1.ImageStreamTag) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return list, nil
}

// ConvertToTable prints tags as oc does.
func (r *REST) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.TableConvertor.ConvertToTable(ctx, obj, tableOptions)
}

// Create sets a spec tag that does not exist yet, creating the stream if needed, and returns
// the tag; 409 if the stream has that spec tag already.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	ist, ok := obj.(*imagev1.ImageStreamTag)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not an ImageStreamTag: %T", obj))
	}
	if err := tagwrite.PrepareCreate(ctx, r.strategy, ist, createValidation); err != nil {
		return nil, err
	}
	// Validation proved the name's form.
	streamName, tag, _ := tagwrite.SplitName(ist.Name)
	change := &tagwrite.Change{
		Description: fmt.Sprintf("the creation of imagestreamtag %s", ist.Name),
		Creates:     true,
		Mutate: func(stream *imagev1.ImageStream, _ *streamwriter.Tx) (bool, error) {
			if imageutil.SpecTag(stream, tag) != nil {
				// Singular, as OpenShift's message is.
				return false, apierrors.NewAlreadyExists(imagev1.Resource("imagestreamtag"), ist.Name)
			}
			if ist.Tag == nil {
				return false, nil
			}
			ref := *ist.Tag.DeepCopy()
			ref.Name = tag
			return tagwrite.SetSpecTag(stream, ref), nil
		},
	}
	stream, err := r.access.Write(ctx, resource, streamName, change, len(options.DryRun) > 0)
	if err != nil {
		return nil, err
	}
	return r.composeWritten(ctx, tag, stream)
}

// Update sets the spec tag (creating it, and the stream, if missing: the 201 that `oc tag`
// relies on) and returns the tag. With a resourceVersion it applies only to that version of
// the stream; without one it applies to whatever the stream holds, never failing because
// another writer got there first.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	streamName, tag, err := splitName(name)
	if err != nil {
		return nil, false, err
	}
	obj, rv, err := r.access.UpdatedObject(ctx, resource, name, streamName, objInfo, r.strategy, createValidation, updateValidation,
		func(stream *imagev1.ImageStream) (runtime.Object, error) { return newISTag(tag, stream, nil, true) })
	if err != nil {
		return nil, false, err
	}
	ist := obj.(*imagev1.ImageStreamTag)
	created := false
	change := &tagwrite.Change{
		Description: fmt.Sprintf("the update of imagestreamtag %s", name),
		Creates:     true,
		Mutate: func(stream *imagev1.ImageStream, tx *streamwriter.Tx) (bool, error) {
			if err := tagwrite.CheckResourceVersion(resource, name, rv, tx, stream); err != nil {
				return false, err
			}
			existing := imageutil.SpecTag(stream, tag)
			created = existing == nil
			var ref imagev1.TagReference
			switch {
			case ist.Tag != nil:
				ref = *ist.Tag.DeepCopy()
			case existing != nil:
				ref = *existing.DeepCopy()
			default:
				return false, apierrors.NewBadRequest(fmt.Sprintf(
					"imagestreamtag %s is not a spec tag in imagestream %s/%s, cannot be updated: set tag (e.g. tag.from) to create it",
					tag, stream.Namespace, stream.Name))
			}
			ref.Name = tag
			// The object's annotations are the tag's. The lookup policy is the stream's: it
			// is changed on the stream, as in OpenShift.
			ref.Annotations = ist.Annotations
			return tagwrite.SetSpecTag(stream, ref), nil
		},
	}
	written, err := r.access.Write(ctx, resource, streamName, change, len(options.DryRun) > 0)
	if err != nil {
		return nil, false, err
	}
	out, err := r.composeWritten(ctx, tag, written)
	return out, created, err
}

// Delete removes the tag's spec and history; its images stay.
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	streamName, tag, err := splitName(name)
	if err != nil {
		return nil, false, err
	}
	return r.access.DeleteTag(ctx, resource, name, streamName, tag, deleteValidation, options,
		func(stream *imagev1.ImageStream) (runtime.Object, error) { return newISTag(tag, stream, nil, true) })
}

// composeWritten is the answer of a write: the tag as the write left it, with its image if
// it points to one that exists.
func (r *REST) composeWritten(ctx context.Context, tag string, stream *imagev1.ImageStream) (runtime.Object, error) {
	var img *imagev1.Image
	if event := imageutil.LatestTagEvent(stream, tag); event != nil && event.Image != "" {
		img, _ = r.access.Image(ctx, event.Image)
	}
	return newISTag(tag, stream, img, true)
}
