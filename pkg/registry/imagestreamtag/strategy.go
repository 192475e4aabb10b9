package imagestreamtag

import (
	"context"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage/names"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/validation"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/tagwrite"
)

// Strategy prepares and validates ImageStreamTags on create and update.
type Strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

// NewStrategy returns the ImageStreamTag strategy.
func NewStrategy(typer runtime.ObjectTyper) Strategy {
	return Strategy{ObjectTyper: typer, NameGenerator: names.SimpleNameGenerator}
}

// NamespaceScoped is true.
func (Strategy) NamespaceScoped() bool { return true }

// PrepareForCreate names the tag after the object and drops what only the server composes:
// conditions and the image.
func (Strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	ist := obj.(*imagev1.ImageStreamTag)
	if ist.Tag != nil && ist.Tag.Name == "" {
		_, tag, _ := tagwrite.SplitName(ist.Name)
		ist.Tag.Name = tag
	}
	ist.Conditions = nil
	ist.Image = imagev1.Image{}
}

// Validate checks a new ImageStreamTag.
func (Strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateImageStreamTag(obj.(*imagev1.ImageStreamTag))
}

// WarningsOnCreate returns none.
func (Strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

// Canonicalize does nothing.
func (Strategy) Canonicalize(runtime.Object) {}

// AllowCreateOnUpdate is false for the generic machinery: Update creates the tag (and its
// stream) itself, as OpenShift does for `oc tag`.
func (Strategy) AllowCreateOnUpdate(context.Context) bool { return false }

// AllowUnconditionalUpdate is true: a PUT without resourceVersion sets the tag whatever the
// stream holds.
func (Strategy) AllowUnconditionalUpdate(context.Context) bool { return true }

// PrepareForUpdate takes the tag's annotations from the object's (a client that read the
// object and changed its annotations need not change both), and keeps what the server
// composes.
func (Strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	ist, oldIST := obj.(*imagev1.ImageStreamTag), old.(*imagev1.ImageStreamTag)
	if ist.Tag != nil {
		ist.Tag.Annotations = ist.Annotations
	}
	ist.Conditions = oldIST.Conditions
	ist.Image = oldIST.Image
}

// ValidateUpdate checks an updated ImageStreamTag against the one composed from storage.
func (Strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateImageStreamTagUpdate(obj.(*imagev1.ImageStreamTag), old.(*imagev1.ImageStreamTag))
}

// WarningsOnUpdate returns none.
func (Strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}
