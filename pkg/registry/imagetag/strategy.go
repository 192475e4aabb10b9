package imagetag

import (
	"context"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage/names"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/validation"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/tagwrite"
)

// Strategy prepares and validates ImageTags on create and update.
type Strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

// NewStrategy returns the ImageTag strategy.
func NewStrategy(typer runtime.ObjectTyper) Strategy {
	return Strategy{ObjectTyper: typer, NameGenerator: names.SimpleNameGenerator}
}

// NamespaceScoped is true.
func (Strategy) NamespaceScoped() bool { return true }

// PrepareForCreate names the spec after the object and drops what only the server composes.
func (Strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	itag := obj.(*imagev1.ImageTag)
	if itag.Spec != nil && itag.Spec.Name == "" {
		_, tag, _ := tagwrite.SplitName(itag.Name)
		itag.Spec.Name = tag
	}
	itag.Status = nil
	itag.Image = nil
}

// Validate checks a new ImageTag.
func (Strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateImageTag(obj.(*imagev1.ImageTag))
}

// WarningsOnCreate returns none.
func (Strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

// Canonicalize does nothing.
func (Strategy) Canonicalize(runtime.Object) {}

// AllowCreateOnUpdate is false for the generic machinery: Update creates the tag itself.
func (Strategy) AllowCreateOnUpdate(context.Context) bool { return false }

// AllowUnconditionalUpdate is true: "make this tag point there, whatever it was" is the most
// common tag action.
func (Strategy) AllowUnconditionalUpdate(context.Context) bool { return true }

// PrepareForUpdate names the spec after the object and keeps what the server composes: the
// status and the image are the server's, so a client that read them before a push does not
// fail on the push's history.
func (Strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	itag, oldITag := obj.(*imagev1.ImageTag), old.(*imagev1.ImageTag)
	if itag.Spec != nil && itag.Spec.Name == "" {
		_, tag, _ := tagwrite.SplitName(itag.Name)
		itag.Spec.Name = tag
	}
	itag.Status = oldITag.Status
	itag.Image = oldITag.Image
}

// ValidateUpdate checks that only spec changed.
func (Strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateImageTagUpdate(obj.(*imagev1.ImageTag), old.(*imagev1.ImageTag))
}

// WarningsOnUpdate returns none.
func (Strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}
