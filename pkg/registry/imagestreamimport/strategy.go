package imagestreamimport

import (
	"context"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage/names"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/validation"
)

// Strategy prepares and validates ImageStreamImports.
type Strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

// NamespaceScoped is true: an import targets a stream of the namespace.
func (Strategy) NamespaceScoped() bool { return true }

// PrepareForCreate drops a client's status: it is the server's answer.
func (Strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	obj.(*imagev1.ImageStreamImport).Status = imagev1.ImageStreamImportStatus{}
}

// Validate checks the import before anything is fetched.
func (Strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateImageStreamImport(obj.(*imagev1.ImageStreamImport))
}

// WarningsOnCreate returns none.
func (Strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

// Canonicalize does nothing.
func (Strategy) Canonicalize(runtime.Object) {}
