package imagesignature

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	storeerr "k8s.io/apiserver/pkg/storage/errors"

	imageregistry "github.com/image-apiserver/image-apiserver/pkg/registry/image"
)

// resource names the signatures in errors and statuses.
var resource = imagev1.Resource("imagesignatures")

// REST creates and deletes signatures inside their image. Each write is one read-modify-write
// of the image on the images store's own storage: a conflict with another writer (another
// signature, a label change) is retried from a fresh read until the request's deadline, so
// concurrent signature writes to one image all succeed (D15), and nothing but
// Image.signatures ever changes.
type REST struct {
	images   *genericregistry.Store
	strategy Strategy
}

var (
	_ rest.Creater              = &REST{}
	_ rest.GracefulDeleter      = &REST{}
	_ rest.Scoper               = &REST{}
	_ rest.Storage              = &REST{}
	_ rest.SingularNameProvider = &REST{}
)

// NewREST returns the imagesignatures storage; images is the images store.
func NewREST(typer runtime.ObjectTyper, images *genericregistry.Store) *REST {
	return &REST{images: images, strategy: NewStrategy(typer)}
}

// New returns an empty ImageSignature.
func (r *REST) New() runtime.Object { return &imagev1.ImageSignature{} }

// Destroy does nothing: the images store owns the storage.
func (r *REST) Destroy() {}

// NamespaceScoped is false.
func (r *REST) NamespaceScoped() bool { return false }

// GetSingularName returns "imagesignature".
func (r *REST) GetSingularName() string { return "imagesignature" }

// Create appends the signature to its image and returns it as stored. A missing image is a
// 404; a signature of the same name, or of the same type and content, is a 409 AlreadyExists.
// A dry run checks all of that and writes nothing.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	sig, ok := obj.(*imagev1.ImageSignature)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not an ImageSignature: %T", obj))
	}
	if sig.Name == "" && sig.GenerateName != "" {
		// "<image>@<prefix>" gets a random suffix, as any generateName does.
		sig.Name = r.strategy.GenerateName(sig.GenerateName)
	}
	rest.FillObjectMetaSystemFields(sig)
	if err := rest.BeforeCreate(r.strategy, ctx, sig); err != nil {
		return nil, err
	}
	if createValidation != nil {
		if err := createValidation(ctx, sig.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	imageName, _ := splitName(sig.Name) // validated by BeforeCreate

	img, err := r.updateImage(ctx, imageName, isDryRun(options.DryRun), func(img *imagev1.Image) error {
		for i := range img.Signatures {
			s := &img.Signatures[i]
			if s.Name == sig.Name || (s.Type == sig.Type && bytes.Equal(s.Content, sig.Content)) {
				return apierrors.NewAlreadyExists(resource, sig.Name)
			}
		}
		img.Signatures = append(img.Signatures, *sig)
		return imageregistry.CheckStoredSize(img)
	})
	if err != nil {
		return nil, err
	}
	i := indexByName(img.Signatures, sig.Name)
	if i < 0 {
		// The write succeeded, so the read-modify-write above appended it.
		return nil, apierrors.NewInternalError(fmt.Errorf("signature %q missing from image %q after the write", sig.Name, imageName))
	}
	return &img.Signatures[i], nil
}

// Delete removes the signature "<image>@<signature>" from its image. A missing image or
// signature is a 404; a dry run writes nothing. A UID precondition must match the
// signature's UID.
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	imageName, ok := splitName(name)
	if !ok {
		return nil, false, apierrors.NewBadRequest(fmt.Sprintf("image signature %q: name must be of format <imageName>@<signatureName>", name))
	}
	if options == nil {
		options = &metav1.DeleteOptions{}
	}
	_, err := r.updateImage(ctx, imageName, isDryRun(options.DryRun), func(img *imagev1.Image) error {
		i := indexByName(img.Signatures, name)
		if i < 0 {
			return apierrors.NewNotFound(resource, name)
		}
		sig := &img.Signatures[i]
		if p := options.Preconditions; p != nil && p.UID != nil && *p.UID != sig.UID {
			return apierrors.NewConflict(resource, name, fmt.Errorf("precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, sig.UID))
		}
		if deleteValidation != nil {
			if err := deleteValidation(ctx, sig.DeepCopy()); err != nil {
				return err
			}
		}
		img.Signatures = slices.Delete(img.Signatures, i, i+1)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return &metav1.Status{
		Status:  metav1.StatusSuccess,
		Code:    http.StatusOK,
		Details: &metav1.StatusDetails{Name: name, Group: resource.Group, Kind: resource.Resource},
	}, true, nil
}

// updateImage applies mutate to a fresh copy of the image and writes it, retrying from a
// fresh read after a conflict. An error from mutate ends it without a write.
func (r *REST) updateImage(ctx context.Context, name string, dryRun bool, mutate func(*imagev1.Image) error) (*imagev1.Image, error) {
	key, err := r.images.KeyFunc(ctx, name)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("image name %q: %v", name, err))
	}
	out := &imagev1.Image{}
	err = r.images.Storage.GuaranteedUpdate(ctx, key, out, false, nil,
		func(existing runtime.Object, _ storage.ResponseMeta) (runtime.Object, *uint64, error) {
			// existing may be the watch cache's copy: never change it in place.
			img := existing.(*imagev1.Image).DeepCopy()
			if err := mutate(img); err != nil {
				return nil, nil, err
			}
			return img, nil, nil
		}, dryRun, nil)
	if err != nil {
		if _, ok := err.(apierrors.APIStatus); ok {
			return nil, err
		}
		return nil, storeerr.InterpretUpdateError(err, imagev1.Resource("images"), name)
	}
	return out, nil
}

func indexByName(sigs []imagev1.ImageSignature, name string) int {
	return slices.IndexFunc(sigs, func(s imagev1.ImageSignature) bool { return s.Name == name })
}

func isDryRun(dryRun []string) bool {
	return slices.Contains(dryRun, metav1.DryRunAll)
}
