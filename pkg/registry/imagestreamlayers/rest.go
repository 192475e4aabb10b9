package imagestreamlayers

import (
	"context"
	"net/http"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	storeerr "k8s.io/apiserver/pkg/storage/errors"

	"github.com/image-apiserver/image-apiserver/pkg/imageindex"
	"github.com/image-apiserver/image-apiserver/pkg/streamcache"
)

// REST is the imagestreams/layers storage.
//
// An answer for a stream whose images are all indexed reads nothing from etcd: the stream
// comes from the imagestreams watch cache and the images from the index. etcd is read only
// to confirm an absence: a stream the cache does not have (it may lag a fresh create by a few
// milliseconds), or an image the index does not have (likewise). OpenShift instead sleeps
// 250 ms and looks again; one read is both faster and certain.
type REST struct {
	index   *imageindex.Index
	streams *genericregistry.Store
	images  *genericregistry.Store
	// cache, when set, holds the current streams.
	cache *streamcache.Cache
}

var (
	_ rest.Getter  = &REST{}
	_ rest.Storage = &REST{}
)

// NewREST serves layers from the index, reading streams and missing images through the
// imagestreams and images stores' storage.
func NewREST(index *imageindex.Index, streams, images *genericregistry.Store) *REST {
	return &REST{index: index, streams: streams, images: images}
}

// New returns an empty ImageStreamLayers.
func (r *REST) New() runtime.Object { return &imagev1.ImageStreamLayers{} }

// Destroy does nothing: the stores belong to their own resources.
func (r *REST) Destroy() {}

// Get returns the layers of the named stream.
func (r *REST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	return r.Layers(ctx, name)
}

// Layers is Get with its type; imagestreamimages uses it to find a stream's images. Until the
// index has loaded every image it cannot tell a missing image from one not yet loaded, so it
// answers 504 ServerTimeout, which clients retry.
func (r *REST) Layers(ctx context.Context, name string) (*imagev1.ImageStreamLayers, error) {
	if !r.index.Synced() {
		return nil, NotSynced(imagev1.Resource("imagestreams"))
	}
	stream, err := r.stream(ctx, name)
	if err != nil {
		return nil, err
	}
	return Build(stream, func(image string) (imageindex.Image, bool, error) {
		return r.image(ctx, image)
	})
}

// NotSynced is the answer while the index loads: reason ServerTimeout with a retry after 2 s,
// as OpenShift, but code 504 rather than the 500 apimachinery gives it, because the server is
// not failing: it is not ready yet for this request.
func NotSynced(resource schema.GroupResource) error {
	err := apierrors.NewServerTimeout(resource, "get", 2)
	err.ErrStatus.Code = http.StatusGatewayTimeout
	return err
}

// SetStreamCache makes the layers read streams from c when it holds them.
func (r *REST) SetStreamCache(c *streamcache.Cache) { r.cache = c }

// stream reads the stream from the stream cache, else from the watch cache (resourceVersion
// "0"; etcd when it is off), and confirms a miss from etcd. A watch cache's object is shared:
// Build only copies from it.
func (r *REST) stream(ctx context.Context, name string) (*imagev1.ImageStream, error) {
	if r.cache != nil {
		if stream, _, ok := r.cache.Get(genericapirequest.NamespaceValue(ctx), name); ok {
			return stream, nil
		}
	}
	key, err := r.streams.KeyFunc(ctx, name)
	if err != nil {
		return nil, err
	}
	stream := &imagev1.ImageStream{}
	err = r.streams.Storage.Get(ctx, key, storage.GetOptions{ResourceVersion: "0"}, stream)
	if storage.IsNotFound(err) {
		err = r.streams.Storage.Get(ctx, key, storage.GetOptions{}, stream)
	}
	if err != nil {
		return nil, storeerr.InterpretGetError(err, imagev1.Resource("imagestreams"), name)
	}
	return stream, nil
}

// image looks the image up in the index, and on a miss reads it from etcd once, teaching the
// index what it finds.
func (r *REST) image(ctx context.Context, name string) (imageindex.Image, bool, error) {
	if img, ok := r.index.Get(name); ok {
		return img, true, nil
	}
	imageindex.RecordMiss()
	key, err := r.images.KeyFunc(ctx, name)
	if err != nil {
		// Not a valid image name, so no such image.
		return imageindex.Image{}, false, nil
	}
	stored := &imagev1.Image{}
	if err := r.images.Storage.Get(ctx, key, storage.GetOptions{}, stored); err != nil {
		if storage.IsNotFound(err) {
			return imageindex.Image{}, false, nil
		}
		return imageindex.Image{}, false, storeerr.InterpretGetError(err, imagev1.Resource("images"), name)
	}
	r.index.Learn(stored)
	return imageindex.View(stored), true, nil
}
