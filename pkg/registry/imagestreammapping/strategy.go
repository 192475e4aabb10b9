// Package imagestreammapping implements POST imagestreammappings: create the Image if it is
// new and record it in the stream's tag history, in one etcd transaction (D6).
package imagestreammapping

import (
	"context"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/reference"
	"github.com/image-apiserver/image-apiserver/pkg/apis/image/validation"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
)

// Strategy prepares and validates a mapping before anything is read or written.
type Strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
	hostnames imagestream.RegistryHostnames
}

var _ rest.RESTCreateStrategy = Strategy{}

// NewStrategy returns the mapping strategy.
func NewStrategy(typer runtime.ObjectTyper, hostnames imagestream.RegistryHostnames) Strategy {
	return Strategy{ObjectTyper: typer, NameGenerator: names.SimpleNameGenerator, hostnames: hostnames}
}

// NamespaceScoped is true: a mapping names a stream in the request's namespace.
func (Strategy) NamespaceScoped() bool { return true }

// PrepareForCreate defaults the image name and reference and drops signatures, as OpenShift
// does: a mapping never carries signatures into the image.
func (s Strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	ism := obj.(*imagev1.ImageStreamMapping)
	img := &ism.Image
	// D1: the documentation's example has no image name; a digest reference
	// names the image unambiguously, so use it.
	if img.Name == "" && img.GenerateName == "" {
		if ref, err := reference.Parse(img.DockerImageReference); err == nil && reference.IsValidDigest(ref.ID) {
			img.Name = ref.ID
		}
	}
	if img.DockerImageReference == "" && img.Name != "" {
		if repo := s.hostnames.InternalRepository(ism.Namespace, ism.Name); repo != "" {
			img.DockerImageReference = repo + "@" + img.Name
		}
	}
	// Signatures are only managed through images and imagesignatures.
	img.Signatures = nil
}

// Validate checks the mapping and its image: stream name, tag, image name and reference
// (D2–D5).
func (Strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateImageStreamMapping(obj.(*imagev1.ImageStreamMapping))
}

// WarningsOnCreate returns none.
func (Strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

// Canonicalize does nothing.
func (Strategy) Canonicalize(runtime.Object) {}
