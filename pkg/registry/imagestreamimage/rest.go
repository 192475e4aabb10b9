// Package imagestreamimage serves imagestreamimages (isimage): GET <stream>@<id> returns an
// image of the stream, found by its digest or a unique prefix of it, with the stream's
// annotations. The integrated registry reads image signatures through it.
package imagestreamimage

import (
	"context"
	"fmt"
	"sort"
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/klog/v2"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/apis/image/reference"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestreamlayers"
)

// maxCandidates bounds the names listed in an ambiguity error.
const maxCandidates = 5

// REST is the imagestreamimages storage.
type REST struct {
	layers *imagestreamlayers.REST
	images rest.Getter
	TableConvertor
}

var (
	_ rest.Getter               = &REST{}
	_ rest.Storage              = &REST{}
	_ rest.Scoper               = &REST{}
	_ rest.ShortNamesProvider   = &REST{}
	_ rest.SingularNameProvider = &REST{}
)

// NewREST finds images through the layers of their stream and reads them from images.
func NewREST(layers *imagestreamlayers.REST, images rest.Getter) *REST {
	return &REST{layers: layers, images: images}
}

// New returns an empty ImageStreamImage.
func (r *REST) New() runtime.Object { return &imagev1.ImageStreamImage{} }

// Destroy does nothing: the stores belong to their own resources.
func (r *REST) Destroy() {}

// NamespaceScoped is true: image stream images live in their stream's namespace.
func (r *REST) NamespaceScoped() bool { return true }

// ShortNames lets `kubectl get isimage` work, as with oc.
func (r *REST) ShortNames() []string { return []string{"isimage"} }

// GetSingularName is the singular resource name.
func (r *REST) GetSingularName() string { return "imagestreamimage" }

// Get returns the image <id> of stream <name>, for a request name <name>@<id>.
func (r *REST) Get(ctx context.Context, requested string, _ *metav1.GetOptions) (runtime.Object, error) {
	streamName, id, ok := parseName(requested)
	if !ok {
		return nil, apierrors.NewBadRequest("ImageStreamImages must be retrieved with <name>@<id>")
	}
	// The layers hold every image of the stream's history and, unlike the history, the
	// children of manifest lists.
	layers, err := r.layers.Layers(ctx, streamName)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewNotFound(imagev1.Resource("imagestreamimages"), streamName)
		}
		if apierrors.IsServerTimeout(err) {
			return nil, imagestreamlayers.NotSynced(imagev1.Resource("imagestreamimages"))
		}
		return nil, err
	}
	notFound := apierrors.NewNotFound(imagev1.Resource("imagestreamimage"), requested)
	matches := matching(layers, id)
	switch {
	case len(matches) == 0:
		return nil, notFound
	case len(matches) > 1:
		// OpenShift returns an arbitrary one of the matches, so the same request may name
		// different images from one call to the next. A conflict that names the candidates
		// tells the user to give more digits of the digest instead.
		return nil, ambiguous(requested, matches)
	}

	obj, err := r.images.Get(genericapirequest.WithNamespace(ctx, metav1.NamespaceNone), matches[0], &metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			// Deleted since the index last saw it.
			return nil, notFound
		}
		return nil, err
	}
	img := obj.(*imagev1.Image)
	// Metadata was derived when the image was written; a failure here only means the stored
	// manifest cannot be read again, and the stored metadata is still the best answer.
	if err := imageutil.ImageWithMetadata(img); err != nil {
		klog.FromContext(ctx).V(2).Info("Cannot derive image metadata", "image", img.Name, "err", err)
	}
	img.DockerImageManifest = ""
	img.DockerImageConfig = ""

	namespace, _ := genericapirequest.NamespaceFrom(ctx)
	return &imagev1.ImageStreamImage{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:         namespace,
			Name:              requested,
			CreationTimestamp: img.CreationTimestamp,
			Annotations:       layers.Annotations,
		},
		Image: *img,
	}, nil
}

// parseName splits <stream>@<id>: exactly one @, both parts non-empty.
func parseName(name string) (stream, id string, ok bool) {
	stream, id, ok = strings.Cut(name, "@")
	if !ok || stream == "" || id == "" || strings.Contains(id, "@") {
		return "", "", false
	}
	return stream, id, true
}

// matching returns, sorted, the stream's existing images whose name starts with id, or whose
// digest's hex part does. Missing images are left out: there is nothing to return for them.
func matching(layers *imagev1.ImageStreamLayers, id string) []string {
	var names []string
	for name, refs := range layers.Images {
		if refs.ImageMissing {
			continue
		}
		if strings.HasPrefix(name, id) {
			names = append(names, name)
			continue
		}
		if _, hex, err := reference.ParseDigest(name); err == nil && strings.HasPrefix(hex, id) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// ambiguous is the 409 for an id that several images match.
func ambiguous(requested string, matches []string) error {
	shown := matches
	more := ""
	if len(shown) > maxCandidates {
		shown, more = shown[:maxCandidates], fmt.Sprintf(" and %d more", len(matches)-maxCandidates)
	}
	return apierrors.NewConflict(imagev1.Resource("imagestreamimages"), requested,
		fmt.Errorf("the id matches %d images (%s%s): give more digits of the digest", len(matches), strings.Join(shown, ", "), more))
}
