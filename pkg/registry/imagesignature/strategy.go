// Package imagesignature serves imagesignatures: create and delete of the signatures kept in
// Image.signatures. There is no object of its own in etcd; a signature is named
// "<imageName>@<signatureName>" and lives inside its image.
package imagesignature

import (
	"context"
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/validation"
)

// Strategy prepares and validates a signature to be added to an image.
type Strategy struct {
	runtime.ObjectTyper
}

var _ rest.RESTCreateStrategy = Strategy{}

// NewStrategy returns the ImageSignature strategy.
func NewStrategy(typer runtime.ObjectTyper) Strategy {
	return Strategy{ObjectTyper: typer}
}

// GenerateName appends a random suffix to base, "<imageName>@<prefix>". Unlike the generic
// generator it never shortens base to fit a DNS label: the image part is a digest, longer
// than any DNS label, and signature names have no length limit of their own.
func (Strategy) GenerateName(base string) string {
	return base + utilrand.String(5)
}

// NamespaceScoped is false: signatures belong to images, which are cluster-scoped.
func (Strategy) NamespaceScoped() bool { return false }

// PrepareForCreate clears what only a verifier may fill in (conditions, identity, claims,
// issuer, subject, creation time), as OpenShift does: a client uploads a signature's type and
// content, never its verdict. It also drops managedFields and resourceVersion, which the
// request handling sets on every object: a signature is embedded in its image, which has its
// own.
func (Strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	sig := obj.(*imagev1.ImageSignature)
	sig.Conditions = nil
	sig.ImageIdentity = ""
	sig.SignedClaims = nil
	sig.Created = nil
	sig.IssuedBy = nil
	sig.IssuedTo = nil
	sig.ManagedFields = nil
	sig.ResourceVersion = ""
}

// Validate applies the signature rules an image applies to its signatures: the name is
// "<imageName>@<signatureName>", type and content are required, labels and annotations are
// forbidden.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateImageSignature(obj.(*imagev1.ImageSignature), nil)
}

// WarningsOnCreate returns none.
func (Strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

// Canonicalize does nothing.
func (Strategy) Canonicalize(runtime.Object) {}

// splitName returns the image part of "<imageName>@<signatureName>", and false unless name
// has exactly one "@" with text on both sides.
func splitName(name string) (imageName string, ok bool) {
	img, sig, found := strings.Cut(name, "@")
	if !found || img == "" || sig == "" || strings.Contains(sig, "@") {
		return "", false
	}
	return img, true
}
