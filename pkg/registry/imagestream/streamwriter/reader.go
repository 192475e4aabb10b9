package streamwriter

import (
	"context"
	"fmt"

	"github.com/image-apiserver/image-apiserver/pkg/streamcache"
	imagev1 "github.com/openshift/api/image/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/storage"
)

// StoreReader reads streams through the imagestreams Store's own storage at resourceVersion
// "0": from the watch cache when it is enabled and ready (no etcd round trip, and it sees
// other replicas' writes), from etcd otherwise. Objects come undecorated, as stored. The
// watch cache shares them with other readers: the writer only reads them and plans on a copy.
func StoreReader(store *genericregistry.Store) StreamReader {
	return func(ctx context.Context, namespace, name string) (*imagev1.ImageStream, int64, error) {
		ctx = genericapirequest.WithNamespace(ctx, namespace)
		key, err := store.KeyFunc(ctx, name)
		if err != nil {
			return nil, 0, err
		}
		stream := &imagev1.ImageStream{}
		if err := store.Storage.Get(ctx, key, storage.GetOptions{ResourceVersion: "0"}, stream); err != nil {
			if storage.IsNotFound(err) {
				return nil, 0, nil
			}
			return nil, 0, fmt.Errorf("reading image stream %s/%s: %w", namespace, name, err)
		}
		rev, err := storage.APIObjectVersioner{}.ObjectResourceVersion(stream)
		if err != nil {
			return nil, 0, fmt.Errorf("image stream %s/%s: %w", namespace, name, err)
		}
		return stream, int64(rev), nil
	}
}

// CacheReader reads streams from the stream cache, and through fallback when the cache cannot
// say (not loaded yet, or the stream is not held). A miss is confirmed by the writer with a
// fresh etcd read, as for any cheap read.
func CacheReader(cache *streamcache.Cache, fallback StreamReader) StreamReader {
	return func(ctx context.Context, namespace, name string) (*imagev1.ImageStream, int64, error) {
		if stream, rev, ok := cache.Get(namespace, name); ok {
			return stream, rev, nil
		}
		return fallback(ctx, namespace, name)
	}
}
