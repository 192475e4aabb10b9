package registrytest

import (
	"context"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
	imageregistry "github.com/image-apiserver/image-apiserver/pkg/registry/image"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
)

// StreamEnv is a real etcd with the images and imagestreams stores as the server builds them
// (undecorated hostnames), the txn Resources for them, and a transaction client: what the
// stream writer and the mapping storage are wired to.
type StreamEnv struct {
	Storage  *Storage
	Images   *imageregistry.REST
	Streams  *imagestream.REST
	ImageRes *txn.Resource
	// StreamRes is the imagestreams Resource.
	StreamRes *txn.Resource
	// Txn commits straight to etcd.
	Txn txn.PreparedCommitter
	// Client reaches the etcd directly, for raw reads and writes.
	Client *clientv3.Client
}

// NewStreamEnv starts an etcd for the test and builds a StreamEnv on it.
func NewStreamEnv(t testing.TB) *StreamEnv {
	t.Helper()
	storage := NewStorage(t)
	return NewStreamEnvWith(t, storage, storage)
}

// NewStreamEnvWith builds a StreamEnv on storage, with the REST options getter given (one that
// changes the key layout, say).
func NewStreamEnvWith(t testing.TB, storage *Storage, getter generic.RESTOptionsGetter) *StreamEnv {
	t.Helper()
	images, err := imageregistry.NewREST(apiserver.Scheme, getter)
	if err != nil {
		t.Fatal(err)
	}
	streams, _, err := imagestream.NewREST(apiserver.Scheme, getter, imagestream.RegistryHostnames{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { images.Destroy(); streams.Destroy() })
	imageRes, err := txn.ResourceFor(images.Store, getter)
	if err != nil {
		t.Fatal(err)
	}
	streamRes, err := txn.ResourceFor(streams.Store, getter)
	if err != nil {
		t.Fatal(err)
	}
	client, err := txn.NewClient(context.Background(), storage.Config.Transport)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return &StreamEnv{Storage: storage, Images: images, Streams: streams, ImageRes: imageRes, StreamRes: streamRes, Txn: txn.New(client), Client: client}
}

// StatusStrategy is the imagestreams/status strategy the server writes streams with.
func (e *StreamEnv) StatusStrategy() rest.RESTUpdateStrategy {
	return imagestream.NewStatusStrategy(imagestream.NewStrategy(apiserver.Scheme, imagestream.RegistryHostnames{}))
}

// CreateStream creates an empty stream through the store.
func (e *StreamEnv) CreateStream(t testing.TB, namespace, name string) {
	t.Helper()
	ctx := genericapirequest.WithNamespace(context.Background(), namespace)
	if _, err := e.Streams.Create(ctx, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}, nil, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Stream reads a stream through the store.
func (e *StreamEnv) Stream(t testing.TB, namespace, name string) *imagev1.ImageStream {
	t.Helper()
	obj, err := e.Streams.Get(genericapirequest.WithNamespace(context.Background(), namespace), name, &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*imagev1.ImageStream)
}

// ImageExists tells whether the image is stored.
func (e *StreamEnv) ImageExists(t testing.TB, name string) bool {
	t.Helper()
	_, err := e.Images.Get(context.Background(), name, &metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

// History returns the image names of a tag's history, newest first.
func History(stream *imagev1.ImageStream, tag string) []string {
	var names []string
	for _, tl := range stream.Status.Tags {
		if tl.Tag == tag {
			for _, it := range tl.Items {
				names = append(names, it.Image)
			}
		}
	}
	return names
}
