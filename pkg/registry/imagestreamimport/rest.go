// Package imagestreamimport serves imagestreamimports: create only. The server fetches the
// requested images from their registries and, unless it is a preview, records them in the
// target stream — Images, spec tags and status events of one import in one transaction
// through the stream writer (D15), created with the stream when it does not exist yet.
package imagestreamimport

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"

	v1defaults "github.com/image-apiserver/image-apiserver/pkg/apis/image/v1"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/streamwriter"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/tagwrite"
)

var resource = imagev1.Resource("imagestreamimports")

// Importer fetches what an import asks for; status.import is left to the caller.
type Importer interface {
	Import(ctx context.Context, isi *imagev1.ImageStreamImport, stream *imagev1.ImageStream, keychain authn.Keychain) imagev1.ImageStreamImportStatus
}

// Keychains gives the registry credentials of an import into namespace.
type Keychains func(ctx context.Context, namespace string) (authn.Keychain, error)

// Config is what the storage needs.
type Config struct {
	Typer     runtime.ObjectTyper
	Access    *tagwrite.Access
	Importer  Importer
	Keychains Keychains
	// ImageStrategy prepares and validates every Image written, as POST images would.
	ImageStrategy rest.RESTCreateStrategy
}

// REST is the imagestreamimports storage.
type REST struct {
	cfg      Config
	strategy Strategy
}

var (
	_ rest.Creater              = &REST{}
	_ rest.Scoper               = &REST{}
	_ rest.SingularNameProvider = &REST{}
)

// NewREST returns the storage.
func NewREST(cfg Config) *REST {
	return &REST{cfg: cfg, strategy: Strategy{ObjectTyper: cfg.Typer, NameGenerator: names.SimpleNameGenerator}}
}

// New returns an empty ImageStreamImport.
func (r *REST) New() runtime.Object { return &imagev1.ImageStreamImport{} }

// Destroy does nothing.
func (r *REST) Destroy() {}

// NamespaceScoped is true.
func (r *REST) NamespaceScoped() bool { return true }

// GetSingularName is imagestreamimport.
func (r *REST) GetSingularName() string { return "imagestreamimport" }

// Create imports, and answers 201 with the import's status: per-image failures are in it, not
// in the HTTP answer.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	isi, ok := obj.(*imagev1.ImageStreamImport)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not an ImageStreamImport: %T", obj))
	}
	// The client's resourceVersion and UID are preconditions on the target stream.
	rv, uid := isi.ResourceVersion, isi.UID
	if err := tagwrite.PrepareCreate(ctx, r.strategy, isi, createValidation); err != nil {
		return nil, err
	}
	return r.run(ctx, isi, rv, uid, len(options.DryRun) > 0)
}

// run imports isi, validated, into the stream of ctx's namespace; rv and uid are the
// preconditions on the stream.
func (r *REST) run(ctx context.Context, isi *imagev1.ImageStreamImport, rv string, uid types.UID, dryRun bool) (*imagev1.ImageStreamImport, error) {
	stream, err := r.target(ctx, isi.Name, rv, uid)
	if err != nil {
		return nil, err
	}
	keychain, err := r.cfg.Keychains(ctx, isi.Namespace)
	if err != nil {
		return nil, err
	}
	isi.Status = r.cfg.Importer.Import(ctx, isi, stream, keychain)
	if !isi.Spec.Import {
		stripManifests(isi)
		return isi, nil
	}
	outcomes, err := r.outcomes(ctx, isi)
	if err != nil {
		return nil, err
	}
	change := &tagwrite.Change{
		Description: fmt.Sprintf("the import into image stream %s", isi.Name),
		Creates:     true,
		Mutate: func(s *imagev1.ImageStream, tx *streamwriter.Tx) (bool, error) {
			return mutate(outcomes, s, tx), nil
		},
	}
	written, err := r.cfg.Access.Write(ctx, resource, isi.Name, change, dryRun)
	if err != nil {
		return nil, err
	}
	isi.Status.Import = written
	stripManifests(isi)
	return isi, nil
}

// target reads the stream imported into, with OpenShift's preconditions: a resourceVersion
// or UID in the request must match the stream, which must then exist.
func (r *REST) target(ctx context.Context, name, rv string, uid types.UID) (*imagev1.ImageStream, error) {
	stream, err := r.cfg.Access.Stream(ctx, name, &metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if rv != "" || uid != "" {
			return nil, apierrors.NewNotFound(imagev1.Resource("imagestream"), name)
		}
		return nil, nil
	case err != nil:
		return nil, err
	case rv != "" && rv != stream.ResourceVersion:
		return nil, apierrors.NewConflict(imagev1.Resource("imagestream"), name,
			fmt.Errorf("the image stream was updated from %q to %q", rv, stream.ResourceVersion))
	case uid != "" && uid != stream.UID:
		return nil, apierrors.NewNotFound(imagev1.Resource("imagestream"), name)
	}
	return stream, nil
}

// outcomes turns the importer's answers into what the stream records, preparing every Image
// as POST images would (a 422 there fails the import before anything is written).
func (r *REST) outcomes(ctx context.Context, isi *imagev1.ImageStreamImport) ([]outcome, error) {
	var out []outcome
	// The repository's tags first: a spec.images entry for the same tag comes later and wins,
	// as in OpenShift.
	if repo := isi.Spec.Repository; repo != nil && isi.Status.Repository != nil {
		// Validation proved the repository has neither tag nor digest.
		base := repo.From.Name
		for i := range isi.Status.Repository.Images {
			st := &isi.Status.Repository.Images[i]
			if st.Tag == "" {
				continue
			}
			o, err := r.outcome(ctx, st.Tag, base+":"+st.Tag, repo.ImportPolicy, repo.ReferencePolicy, st)
			if err != nil {
				return nil, err
			}
			// A tag of the repository that failed gets its condition, but no spec tag: only
			// what was asked for by name is added to the spec on failure.
			o.fromRepository = true
			out = append(out, o)
		}
	}
	for i, spec := range isi.Spec.Images {
		if spec.To == nil || i >= len(isi.Status.Images) {
			continue // no target tag: fetched, not recorded
		}
		o, err := r.outcome(ctx, spec.To.Name, spec.From.Name, spec.ImportPolicy, spec.ReferencePolicy, &isi.Status.Images[i])
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func (r *REST) outcome(ctx context.Context, tag, from string, policy imagev1.TagImportPolicy, refPolicy imagev1.TagReferencePolicy, st *imagev1.ImageImportStatus) (outcome, error) {
	o := outcome{tag: tag, from: from, importPolicy: policy, referencePolicy: refPolicy, status: st.Status}
	if st.Status.Status != metav1.StatusSuccess || st.Image == nil {
		return o, nil
	}
	clusterCtx := genericapirequest.WithNamespace(ctx, metav1.NamespaceNone)
	for i := range st.Manifests {
		child := st.Manifests[i].DeepCopy()
		if err := r.prepareImage(clusterCtx, child); err != nil {
			return o, err
		}
		o.children = append(o.children, child)
	}
	img := st.Image.DeepCopy()
	if err := r.prepareImage(clusterCtx, img); err != nil {
		return o, err
	}
	o.image = img
	return o, nil
}

// prepareImage runs the Image create strategy and drops what is not stored: manifests and
// configs are read from the registry again when needed, signatures are the registry's.
func (r *REST) prepareImage(ctx context.Context, img *imagev1.Image) error {
	img.ResourceVersion = ""
	img.Signatures = nil
	rest.FillObjectMetaSystemFields(img)
	if err := rest.BeforeCreate(r.cfg.ImageStrategy, ctx, img); err != nil {
		return err
	}
	img.DockerImageManifest = ""
	img.DockerImageConfig = ""
	return nil
}

// stripManifests blanks manifests and configs in the answer, but for entries that asked for
// them.
func stripManifests(isi *imagev1.ImageStreamImport) {
	for i := range isi.Status.Images {
		keep := i < len(isi.Spec.Images) && isi.Spec.Images[i].IncludeManifest
		strip(&isi.Status.Images[i], keep)
	}
	if repo := isi.Status.Repository; repo != nil {
		keep := isi.Spec.Repository != nil && isi.Spec.Repository.IncludeManifest
		for i := range repo.Images {
			strip(&repo.Images[i], keep)
		}
	}
}

func strip(st *imagev1.ImageImportStatus, keep bool) {
	if keep {
		return
	}
	if st.Image != nil {
		st.Image.DockerImageManifest = ""
		st.Image.DockerImageConfig = ""
	}
	for i := range st.Manifests {
		st.Manifests[i].DockerImageManifest = ""
		st.Manifests[i].DockerImageConfig = ""
	}
}

// ImportStream imports what spec asks for into stream, at the stream's current version, as
// OpenShift's controllers post an ImageStreamImport for it: the automatic imports of D17 (spec
// tags, each from its DockerImage source into itself, and the whole spec.dockerImageRepository
// of a stream never imported into). The answer's per-image statuses say what failed; they are
// recorded in the stream as conditions.
func (r *REST) ImportStream(ctx context.Context, stream *imagev1.ImageStream, spec imagev1.ImageStreamImportSpec) (*imagev1.ImageStreamImport, error) {
	isi := &imagev1.ImageStreamImport{
		ObjectMeta: metav1.ObjectMeta{Namespace: stream.Namespace, Name: stream.Name},
		Spec:       *spec.DeepCopy(),
	}
	// As the server decodes a posted import: a repository's reference policy defaults to
	// Source, import modes to the server's.
	v1defaults.SetObjectDefaults_ImageStreamImport(isi)
	if errs := r.strategy.Validate(ctx, isi); len(errs) > 0 {
		return nil, apierrors.NewInvalid(schema.GroupKind{Group: imagev1.GroupName, Kind: "ImageStreamImport"}, isi.Name, errs)
	}
	ctx = genericapirequest.WithNamespace(ctx, stream.Namespace)
	return r.run(ctx, isi, stream.ResourceVersion, stream.UID, false)
}
