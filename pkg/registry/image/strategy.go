// Package image is the registry (storage, strategy, table) of the cluster-scoped images.
package image

import (
	"context"
	"fmt"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	apistorage "k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/apis/image/validation"
)

// Strategy is the create/update/delete strategy of images.
type Strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

var _ rest.RESTCreateUpdateStrategy = Strategy{}
var _ rest.GarbageCollectionDeleteStrategy = Strategy{}

// NewStrategy returns the Image strategy.
func NewStrategy(typer runtime.ObjectTyper) Strategy {
	return Strategy{ObjectTyper: typer, NameGenerator: names.SimpleNameGenerator}
}

// NamespaceScoped is false: images are cluster-scoped and shared by all streams.
func (Strategy) NamespaceScoped() bool { return false }

// AllowCreateOnUpdate is false.
func (Strategy) AllowCreateOnUpdate(context.Context) bool { return false }

// AllowUnconditionalUpdate is false: updates must carry a resourceVersion, as in OpenShift.
func (Strategy) AllowUnconditionalUpdate(context.Context) bool { return false }

// DefaultGarbageCollectionPolicy is Unsupported, as in OpenShift: deleting an image never
// cascades, and streams keep their history.
func (Strategy) DefaultGarbageCollectionPolicy(context.Context) rest.GarbageCollectionPolicy {
	return rest.Unsupported
}

// PrepareForCreate derives metadata from the manifest and config, drops what the registry
// keeps in blob storage and clears managed-signature annotations. A manifest that
// cannot be interpreted does not fail the create, as in OpenShift: the image is still a valid,
// pullable reference, and the error is logged.
func (Strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	img := obj.(*imagev1.Image)
	if err := imageutil.PrepareImageForCreate(img); err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "Could not derive image metadata from its manifest", "image", img.Name)
	}
}

// PrepareForUpdate applies OpenShift's silent resets: an image is immutable apart from
// labels, annotations, reference, signatures and manifest list entries.
func (Strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	img := obj.(*imagev1.Image)
	if err := imageutil.PrepareImageForUpdate(img, old.(*imagev1.Image)); err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "Could not derive image metadata from its manifest", "image", img.Name)
	}
}

// Validate checks a new image (OpenShift's rules, and D5).
func (Strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateImage(obj.(*imagev1.Image))
}

// ValidateUpdate checks an updated image.
func (Strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateImageUpdate(obj.(*imagev1.Image), old.(*imagev1.Image))
}

// WarningsOnCreate returns none.
func (Strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

// WarningsOnUpdate returns none.
func (Strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// Canonicalize does nothing: metadata is made canonical before validation.
func (Strategy) Canonicalize(runtime.Object) {}

// NormalizeMetadata decodes dockerImageMetadata by its version and stores it in canonical
// form. It runs before validation, so an unsupported version is a 400 naming the field, as
// when OpenShift fails to convert the request.
func NormalizeMetadata(img *imagev1.Image) error {
	if err := imageutil.NormalizeDockerImageMetadata(img); err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("image %q: dockerImageMetadata: %v", img.Name, err))
	}
	return nil
}

// beginCreate and beginUpdate run NormalizeMetadata on requests to the images endpoint.
func beginCreate(ctx context.Context, obj runtime.Object, _ *metav1.CreateOptions) (genericregistry.FinishFunc, error) {
	return noopFinish, NormalizeMetadata(obj.(*imagev1.Image))
}

func beginUpdate(ctx context.Context, obj, _ runtime.Object, _ *metav1.UpdateOptions) (genericregistry.FinishFunc, error) {
	return noopFinish, NormalizeMetadata(obj.(*imagev1.Image))
}

func noopFinish(context.Context, bool) {}

// GetAttrs returns the labels and selectable fields (only metadata.name, as in OpenShift).
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	img, ok := obj.(*imagev1.Image)
	if !ok {
		return nil, nil, fmt.Errorf("not an Image: %T", obj)
	}
	return img.Labels, generic.ObjectMetaFieldsSet(&img.ObjectMeta, false), nil
}

// MatchImage returns the selection predicate for lists and watches.
func MatchImage(label labels.Selector, field fields.Selector) apistorage.SelectionPredicate {
	return apistorage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
