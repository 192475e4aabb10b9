// Package imagetag serves imagetags (itag): a stream's tag as spec, history and image
// together. Writes change the stream's spec tag (and, on delete, its history) through the
// stream writer: one transaction, no conflicts between writers (D15).
package imagetag

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
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/streamwriter"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/tagwrite"
)

// REST is the imagetags storage.
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

// NewREST returns the ImageTag storage.
func NewREST(typer runtime.ObjectTyper, access *tagwrite.Access) *REST {
	return &REST{access: access, strategy: NewStrategy(typer)}
}

// New returns an empty ImageTag.
func (r *REST) New() runtime.Object { return &imagev1.ImageTag{} }

// NewList returns an empty list.
func (r *REST) NewList() runtime.Object { return &imagev1.ImageTagList{} }

// Destroy does nothing: the stores and the writer are owned by the server.
func (r *REST) Destroy() {}

// NamespaceScoped is true.
func (r *REST) NamespaceScoped() bool { return true }

// ShortNames lets `kubectl get itag` work, as with oc.
func (r *REST) ShortNames() []string { return []string{"itag"} }

// GetSingularName is imagetag.
func (r *REST) GetSingularName() string { return "imagetag" }

// splitName parses "<stream>:<tag>" with OpenShift's 400 for anything else.
func splitName(name string) (string, string, error) {
	stream, tag, ok := tagwrite.SplitName(name)
	if !ok {
		return "", "", apierrors.NewBadRequest(fmt.Sprintf("ImageTags must be retrieved with <name>:<tag>, not %q", name))
	}
	return stream, tag, nil
}

// Get returns the tag; its image is null when the tag points to none, or to one that is gone.
func (r *REST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	streamName, tag, err := splitName(name)
	if err != nil {
		return nil, err
	}
	stream, err := r.access.Stream(ctx, streamName, options)
	if err != nil {
		return nil, err
	}
	img, err := r.headImage(ctx, stream, tag)
	if err != nil {
		return nil, err
	}
	return newITag(tag, stream, img, false)
}

// List returns, per matching stream, every tag in spec or status, sorted, without images.
func (r *REST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	streams, err := r.access.ListStreams(ctx, options)
	if err != nil {
		return nil, err
	}
	fieldSelector := tagwrite.FieldSelector(options)
	list := &imagev1.ImageTagList{ListMeta: metav1.ListMeta{ResourceVersion: streams.ResourceVersion}}
	slices.SortFunc(streams.Items, func(a, b imagev1.ImageStream) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	for i := range streams.Items {
		stream := &streams.Items[i]
		names := sets.New[string]()
		for _, t := range stream.Spec.Tags {
			names.Insert(t.Name)
		}
		for _, t := range stream.Status.Tags {
			names.Insert(t.Tag)
		}
		for _, tag := range sets.List(names) {
			itag, err := newITag(tag, stream, nil, false)
			if err != nil {
				return nil, err
			}
			if fieldSelector.Matches(generic.ObjectMetaFieldsSet(&itag.ObjectMeta, true)) {
				list.Items = append(list.Items, *itag)
			}
		}
	}
	return list, nil
}

// ConvertToTable prints tags as oc does.
func (r *REST) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.TableConvertor.ConvertToTable(ctx, obj, tableOptions)
}

// Create sets a spec tag that does not exist yet, creating the stream if needed; 409 if the
// stream has that spec tag already.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	itag, ok := obj.(*imagev1.ImageTag)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not an ImageTag: %T", obj))
	}
	if err := tagwrite.PrepareCreate(ctx, r.strategy, itag, createValidation); err != nil {
		return nil, err
	}
	// Validation proved the name's form and that spec is set.
	streamName, tag, _ := tagwrite.SplitName(itag.Name)
	change := &tagwrite.Change{
		Description: fmt.Sprintf("the creation of imagetag %s", itag.Name),
		Creates:     true,
		Mutate: func(stream *imagev1.ImageStream, _ *streamwriter.Tx) (bool, error) {
			if imageutil.SpecTag(stream, tag) != nil {
				return false, apierrors.NewAlreadyExists(resource, itag.Name)
			}
			ref := *itag.Spec.DeepCopy()
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

// Update sets the spec tag, or removes it when spec is null, creating the stream if needed.
// With a resourceVersion it applies only to that version of the stream; without one it
// applies to whatever the stream holds, never failing because another writer got there first.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	streamName, tag, err := splitName(name)
	if err != nil {
		return nil, false, err
	}
	obj, rv, err := r.access.UpdatedObject(ctx, resource, name, streamName, objInfo, r.strategy, createValidation, updateValidation,
		func(stream *imagev1.ImageStream) (runtime.Object, error) { return newITag(tag, stream, nil, true) })
	if err != nil {
		return nil, false, err
	}
	itag := obj.(*imagev1.ImageTag)
	created := false
	change := &tagwrite.Change{
		Description: fmt.Sprintf("the update of imagetag %s", name),
		Creates:     true,
		Mutate: func(stream *imagev1.ImageStream, tx *streamwriter.Tx) (bool, error) {
			if err := tagwrite.CheckResourceVersion(resource, name, rv, tx, stream); err != nil {
				return false, err
			}
			created = imageutil.SpecTag(stream, tag) == nil
			if itag.Spec == nil {
				return tagwrite.RemoveSpecTag(stream, tag), nil
			}
			ref := *itag.Spec.DeepCopy()
			ref.Name = tag
			return tagwrite.SetSpecTag(stream, ref), nil
		},
	}
	written, err := r.access.Write(ctx, resource, streamName, change, len(options.DryRun) > 0)
	if err != nil {
		return nil, false, err
	}
	out, err := r.composeWritten(ctx, tag, written)
	return out, created && itag.Spec != nil, err
}

// Delete removes the tag's spec and history; its images stay.
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	streamName, tag, err := splitName(name)
	if err != nil {
		return nil, false, err
	}
	return r.access.DeleteTag(ctx, resource, name, streamName, tag, deleteValidation, options,
		func(stream *imagev1.ImageStream) (runtime.Object, error) { return newITag(tag, stream, nil, true) })
}

// headImage is the image the tag's newest event points to; nil when there is none or it is
// gone.
func (r *REST) headImage(ctx context.Context, stream *imagev1.ImageStream, tag string) (*imagev1.Image, error) {
	event := imageutil.LatestTagEvent(stream, tag)
	if event == nil || event.Image == "" {
		return nil, nil
	}
	img, err := r.access.Image(ctx, event.Image)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return img, err
}

// composeWritten is the answer of a write: the tag as the write left it.
func (r *REST) composeWritten(ctx context.Context, tag string, stream *imagev1.ImageStream) (runtime.Object, error) {
	img, _ := r.headImage(ctx, stream, tag)
	return newITag(tag, stream, img, true)
}
