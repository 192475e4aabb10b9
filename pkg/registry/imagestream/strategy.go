// Package imagestream is the registry (storage, strategies, table) of imagestreams and
// imagestreams/status.
package imagestream

import (
	"context"
	"fmt"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	apistorage "k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/apis/image/validation"
)

// Strategy is the create/update/delete strategy of the main imagestreams endpoint.
type Strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
	hostnames RegistryHostnames
	lookup    *lookupHolder
	// maxTagHistory is --max-tag-history, shared by the copies of this value-typed strategy.
	maxTagHistory *int
}

var _ rest.RESTCreateUpdateStrategy = Strategy{}
var _ rest.ResetFieldsStrategy = Strategy{}

// NewStrategy returns the main ImageStream strategy.
func NewStrategy(typer runtime.ObjectTyper, hostnames RegistryHostnames) Strategy {
	return Strategy{ObjectTyper: typer, NameGenerator: names.SimpleNameGenerator, hostnames: hostnames, lookup: &lookupHolder{}, maxTagHistory: new(int)}
}

// SetMaxTagHistory sets the server's per-tag history limit (D16), 0 for none, which an update
// of a spec tag applies when it resolves the tag into a new event.
func (s Strategy) SetMaxTagHistory(n int) { *s.maxTagHistory = n }

// SetLookup lets spec tags follow other streams of their namespace.
func (s Strategy) SetLookup(lookup StreamLookup) { s.lookup.get = lookup }

// NamespaceScoped is true: image streams live in a namespace.
func (Strategy) NamespaceScoped() bool { return true }

// AllowCreateOnUpdate is false: PUT of a missing stream is a 404.
func (Strategy) AllowCreateOnUpdate(context.Context) bool { return false }

// AllowUnconditionalUpdate is false: an update must carry a resourceVersion, as in OpenShift.
func (Strategy) AllowUnconditionalUpdate(context.Context) bool { return false }

// GetResetFields says status is owned by the status endpoint and the server.
func (Strategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"image.openshift.io/v1": fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

// PrepareForCreate discards client status, sets generation 1 on the stream and its spec tags,
// and resolves spec tags that can be resolved without an importer, as OpenShift does.
func (s Strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	stream := obj.(*imagev1.ImageStream)
	stream.Status = imagev1.ImageStreamStatus{}
	s.setRepositories(stream)
	stream.Generation = 1
	for i := range stream.Spec.Tags {
		stream.Spec.Tags[i].Generation = ptrTo(int64(1))
	}
	resolveSpecTags(ctx, stream, nil, s.lookup.get, s.hostnames)
}

// PrepareForUpdate keeps the stored status and generation, protects spec-tag generations, bumps
// the generation when the spec changed and resolves new or changed spec tags, as OpenShift does.
// Status edits through the main endpoint are ignored.
func (s Strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	stream, oldStream := obj.(*imagev1.ImageStream), old.(*imagev1.ImageStream)
	stream.Status = *oldStream.Status.DeepCopy()
	s.PrepareSpecChange(ctx, stream, oldStream)
	// A changed spec tag may have resolved into a new event: the history limit applies as it
	// does to every other write that adds events.
	TrimTagHistory(stream, oldStream, TagHistoryLimit(stream, *s.maxTagHistory))
}

// PrepareSpecChange applies the rules of a spec update to stream, whose spec may differ from
// oldStream's, keeping stream's status as it is: spec-tag generations are protected, the
// stream's generation moves when the spec changed, and spec tags that are new or point
// elsewhere get the new generation and are resolved into status. The main endpoint runs it
// after restoring the stored status; tag writes run it on a stream whose status they
// changed themselves (a deleted tag loses its history).
func (s Strategy) PrepareSpecChange(ctx context.Context, stream, oldStream *imagev1.ImageStream) {
	dropEmptyStatusTags(stream)
	s.setRepositories(stream)
	stream.Generation = oldStream.Generation

	for i := range stream.Spec.Tags {
		tag := &stream.Spec.Tags[i]
		if prev := imageutil.SpecTag(oldStream, tag.Name); prev != nil {
			// A client may ask for a re-import by setting 0; any other value is the server's.
			if tag.Generation == nil || *tag.Generation != 0 {
				tag.Generation = copyInt64(prev.Generation)
			}
		}
	}
	if oldStream.Generation == 0 || !equality.Semantic.DeepEqual(stream.Spec, oldStream.Spec) {
		stream.Generation = oldStream.Generation + 1
	}
	changed := map[string]bool{}
	for i := range stream.Spec.Tags {
		tag := &stream.Spec.Tags[i]
		prev := imageutil.SpecTag(oldStream, tag.Name)
		if prev == nil || tagReferenceChanged(prev, tag) || tag.Generation == nil || *tag.Generation == 0 {
			tag.Generation = ptrTo(stream.Generation)
			changed[tag.Name] = true
		}
	}
	resolveSpecTags(ctx, stream, changed, s.lookup.get, s.hostnames)
}

// Validate checks a new stream (OpenShift's rules, and D3, D4).
func (Strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	stream := obj.(*imagev1.ImageStream)
	return append(validation.ValidateImageStream(stream), validateMaxTagHistoryAnnotation(stream, nil)...)
}

// ValidateUpdate checks an updated stream against the stored one.
func (Strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	stream, oldStream := obj.(*imagev1.ImageStream), old.(*imagev1.ImageStream)
	return append(validation.ValidateImageStreamUpdate(stream, oldStream), validateMaxTagHistoryAnnotation(stream, oldStream)...)
}

// WarningsOnCreate returns none.
func (Strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

// WarningsOnUpdate returns none.
func (Strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// Canonicalize sorts spec and status tags by name: they are lists on the wire but maps in
// meaning, and OpenShift always returns them sorted.
func (Strategy) Canonicalize(obj runtime.Object) {
	imageutil.SortTags(obj.(*imagev1.ImageStream))
}

// setRepositories fills the computed repository fields (D11).
func (s Strategy) setRepositories(stream *imagev1.ImageStream) {
	SetRepositories(stream, s.hostnames)
}

// SetRepositories sets status.dockerImageRepository and status.publicDockerImageRepository from
// the configured registry hostnames. It is also the read decorator, so a changed hostname shows
// at once.
func SetRepositories(stream *imagev1.ImageStream, hostnames RegistryHostnames) {
	if repo := hostnames.InternalRepository(stream.Namespace, stream.Name); repo != "" {
		stream.Status.DockerImageRepository = repo
	} else {
		stream.Status.DockerImageRepository = stream.Spec.DockerImageRepository
	}
	stream.Status.PublicDockerImageRepository = hostnames.PublicRepository(stream.Namespace, stream.Name)
}

// StatusStrategy is the strategy of imagestreams/status: only status may change. It is the
// path ImageStreamMapping uses.
type StatusStrategy struct {
	Strategy
}

// NewStatusStrategy returns the status strategy.
func NewStatusStrategy(main Strategy) StatusStrategy { return StatusStrategy{Strategy: main} }

// GetResetFields says spec and metadata are owned by the main endpoint.
func (StatusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"image.openshift.io/v1": fieldpath.NewSet(fieldpath.MakePathOrDie("spec"), fieldpath.MakePathOrDie("metadata")),
	}
}

// PrepareForUpdate keeps everything but status from the stored object and fills the generation
// of new head events that did not set one, as OpenShift does.
func (s StatusStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	stream, oldStream := obj.(*imagev1.ImageStream), old.(*imagev1.ImageStream)
	stream.Spec = *oldStream.Spec.DeepCopy()
	stream.Labels = oldStream.Labels
	stream.Annotations = oldStream.Annotations
	stream.Finalizers = oldStream.Finalizers
	stream.OwnerReferences = oldStream.OwnerReferences
	stream.Generation = oldStream.Generation
	s.setRepositories(stream)
	for i := range stream.Status.Tags {
		list := &stream.Status.Tags[i]
		if len(list.Items) == 0 || list.Items[0].Generation != 0 {
			continue
		}
		head := &list.Items[0]
		oldHead := imageutil.LatestTagEvent(oldStream, list.Tag)
		unchanged := oldHead != nil && oldHead.Image == head.Image &&
			oldHead.DockerImageReference == head.DockerImageReference && oldHead.Generation <= stream.Generation
		if oldHead == nil || unchanged {
			head.Generation = stream.Generation
		} else if spec := imageutil.SpecTag(stream, list.Tag); spec != nil && spec.Generation != nil {
			head.Generation = *spec.Generation
		} else {
			head.Generation = stream.Generation
		}
	}
}

// ValidateUpdate checks the metadata rules and only the status references that are new.
func (StatusStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateImageStreamStatusUpdate(obj.(*imagev1.ImageStream), old.(*imagev1.ImageStream))
}

// ServerCreateStrategy creates a stream the server writes on a client's behalf (a tag written
// to a missing stream, an import): the main endpoint's create rules, but the status the
// change recorded (an import's events) is kept, where the main endpoint discards a client's.
type ServerCreateStrategy struct {
	Strategy
}

// NewServerCreateStrategy returns the strategy of server-composed stream creates.
func NewServerCreateStrategy(main Strategy) ServerCreateStrategy {
	return ServerCreateStrategy{Strategy: main}
}

// PrepareForCreate applies the create rules and puts the change's status tags back, over
// anything the spec tags resolved to.
func (s ServerCreateStrategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	stream := obj.(*imagev1.ImageStream)
	recorded := stream.Status.Tags
	s.Strategy.PrepareForCreate(ctx, obj)
	for _, tag := range recorded {
		if existing := imageutil.StatusTag(stream, tag.Tag); existing != nil {
			*existing = tag
		} else {
			stream.Status.Tags = append(stream.Status.Tags, tag)
		}
	}
	imageutil.SortTags(stream)
}

// ServerWriteStrategy finishes a stream the server changed on a client's behalf, spec and
// status together (tag writes, imports). Unlike the main endpoint it keeps the status it is
// given, and unlike the status endpoint it keeps the spec: the change itself already applied
// the spec rules (PrepareSpecChange). It validates the whole stream, as the main endpoint does.
type ServerWriteStrategy struct {
	Strategy
}

// NewServerWriteStrategy returns the strategy of server-composed stream writes.
func NewServerWriteStrategy(main Strategy) ServerWriteStrategy {
	return ServerWriteStrategy{Strategy: main}
}

// PrepareForUpdate only recomputes the repository fields.
func (s ServerWriteStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	stream := obj.(*imagev1.ImageStream)
	dropEmptyStatusTags(stream)
	s.setRepositories(stream)
}

// GetAttrs returns the labels and the selectable fields of a stream.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	stream, ok := obj.(*imagev1.ImageStream)
	if !ok {
		return nil, nil, fmt.Errorf("not an ImageStream: %T", obj)
	}
	return stream.Labels, SelectableFields(stream), nil
}

// SelectableFields returns the field set matched by field selectors; its keys are
// v1.ImageStreamSelectableFields.
func SelectableFields(stream *imagev1.ImageStream) fields.Set {
	return generic.AddObjectMetaFieldsSet(fields.Set{
		"spec.dockerImageRepository":   stream.Spec.DockerImageRepository,
		"status.dockerImageRepository": stream.Status.DockerImageRepository,
	}, &stream.ObjectMeta, true)
}

// MatchImageStream returns the selection predicate for lists and watches.
func MatchImageStream(label labels.Selector, field fields.Selector) apistorage.SelectionPredicate {
	return apistorage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}

// dropEmptyStatusTags removes status tags that carry neither history nor conditions.
func dropEmptyStatusTags(stream *imagev1.ImageStream) {
	kept := stream.Status.Tags[:0]
	for _, t := range stream.Status.Tags {
		if len(t.Items) > 0 || len(t.Conditions) > 0 {
			kept = append(kept, t)
		}
	}
	if len(kept) == 0 {
		kept = nil
	}
	stream.Status.Tags = kept
}

// tagReferenceChanged reports a change that makes a spec tag point elsewhere, which gives the
// tag the stream's new generation: another source (kind, namespace or name), reference, or
// import mode.
func tagReferenceChanged(old, tag *imagev1.TagReference) bool {
	if (old.From == nil) != (tag.From == nil) {
		return true
	}
	if tag.From != nil && (old.From.Kind != tag.From.Kind || old.From.Namespace != tag.From.Namespace || old.From.Name != tag.From.Name) {
		return true
	}
	return old.Reference != tag.Reference || old.ImportPolicy.ImportMode != tag.ImportPolicy.ImportMode
}

func ptrTo[T any](v T) *T { return &v }

func copyInt64(p *int64) *int64 {
	if p == nil {
		return nil
	}
	return ptrTo(*p)
}
