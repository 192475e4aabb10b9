package imagestreammapping

import (
	"context"
	"errors"
	"net/http"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/image-apiserver/image-apiserver/pkg/panics"
	imageregistry "github.com/image-apiserver/image-apiserver/pkg/registry/image"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/streamwriter"
)

// DefaultMaxImageStreamBytes is the default --max-imagestream-bytes (D8): under etcd's
// 1.5 MiB request limit, with room for the image written in the same transaction.
const DefaultMaxImageStreamBytes = 1 << 20

// managedAnnotation marks images pushed to the integrated registry.
const managedAnnotation = "openshift.io/image.managed"

// Config is what the mapping storage needs.
type Config struct {
	Typer runtime.ObjectTyper
	// Writer records the mapping in its stream, with its image, in one transaction.
	Writer *streamwriter.Writer
	// ImageStrategy is the images create strategy: a mapping's image is prepared as if it
	// were POSTed to images.
	ImageStrategy rest.RESTCreateStrategy
	Hostnames     imagestream.RegistryHostnames
}

// REST is the imagestreammappings storage: create only, as in OpenShift (LIST is 405, GET,
// PUT and DELETE of a name are 404).
type REST struct {
	cfg      Config
	strategy Strategy
}

var _ rest.Creater = &REST{}
var _ rest.Storage = &REST{}
var _ rest.SingularNameProvider = &REST{}

// NewREST returns the mapping storage.
func NewREST(cfg Config) *REST {
	return &REST{cfg: cfg, strategy: NewStrategy(cfg.Typer, cfg.Hostnames)}
}

// New returns an empty mapping.
func (r *REST) New() runtime.Object { return &imagev1.ImageStreamMapping{} }

// Destroy does nothing: the writer and its transaction client are owned by the server.
func (r *REST) Destroy() {}

// NamespaceScoped is true.
func (r *REST) NamespaceScoped() bool { return true }

// GetSingularName is imagestreammapping.
func (r *REST) GetSingularName() string { return "imagestreammapping" }

// Create validates the mapping, records it, and answers (D1–D9, D12, D14): decode and
// validate here; plan and commit in the stream writer; answer here.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (out runtime.Object, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, panics.NewError(ctx, p, "creating an image stream mapping")
		}
		recordResult(err)
	}()
	ism, err := r.validate(ctx, obj, createValidation)
	if err != nil {
		return nil, err
	}
	change := &mappingChange{tag: ism.Tag, image: &ism.Image, managed: ism.Image.Annotations[managedAnnotation] == "true"}
	if len(options.DryRun) > 0 {
		// D6: validate and compute everything, write nothing.
		err = r.cfg.Writer.DryRun(ctx, ism.Namespace, ism.Name, change)
	} else {
		err = r.cfg.Writer.Write(ctx, ism.Namespace, ism.Name, change)
	}
	if err != nil {
		return nil, streamwriter.NameAfter(err, resource, ism.Name)
	}
	return success(ism.Namespace, ism.Name, ism.Tag, ism.Image.Name), nil
}

// validate runs everything that needs no storage: the mapping strategy (D1–D5), admission's
// validation, and the full Image create strategy on the embedded image (defaulting, metadata
// derivation, validation), as if it were POSTed to images. The returned mapping's image is
// the Image to create.
func (r *REST) validate(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc) (*imagev1.ImageStreamMapping, error) {
	ism, ok := obj.(*imagev1.ImageStreamMapping)
	if !ok {
		return nil, apierrors.NewBadRequest("not an ImageStreamMapping")
	}
	if err := imageregistry.NormalizeMetadata(&ism.Image); err != nil {
		return nil, err
	}
	// The generic store does this for its objects before BeforeCreate; a mapping is not stored,
	// but BeforeCreate insists.
	rest.FillObjectMetaSystemFields(ism)
	if err := rest.BeforeCreate(r.strategy, ctx, ism); err != nil {
		return nil, err
	}
	if createValidation != nil {
		if err := createValidation(ctx, ism.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	img := &ism.Image
	img.Namespace = ""
	img.ResourceVersion = ""
	img.ManagedFields = nil
	// As POST images does: fields only the server sets (a deletion timestamp would leave the
	// image terminating forever) are not taken from the client.
	rest.WipeObjectMetaSystemFields(img)
	rest.FillObjectMetaSystemFields(img)
	if err := rest.BeforeCreate(r.cfg.ImageStrategy, genericapirequest.WithNamespace(ctx, metav1.NamespaceNone), img); err != nil {
		return nil, err
	}
	return ism, nil
}

// recordResult counts the answer by HTTP code.
func recordResult(err error) {
	code := http.StatusCreated
	if err != nil {
		code = http.StatusInternalServerError
		var status apierrors.APIStatus
		if errors.As(err, &status) {
			code = int(status.Status().Code)
		}
	}
	countResult(code)
}
