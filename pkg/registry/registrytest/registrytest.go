// Package registrytest gives storage tests RESTOptions backed by a real, in-process etcd and
// the server's own storage codec. It imports pkg/apiserver, so only external test packages
// (package foo_test) can use it.
package registrytest

import (
	"bytes"
	"context"
	"path"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apiserver/pkg/registry/generic"
	etcd3testing "k8s.io/apiserver/pkg/storage/etcd3/testing"
	"k8s.io/apiserver/pkg/storage/storagebackend"

	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
)

// Storage is a real etcd with the server's codec.
type Storage struct {
	// Config is the storage configuration the getter hands out; its Transport reaches the etcd.
	Config *storagebackend.Config
}

// NewStorage starts an etcd for the test (stopped by t.Cleanup) and returns its configuration.
func NewStorage(t testing.TB) *Storage {
	t.Helper()
	_, config := etcd3testing.NewUnsecuredEtcd3TestClientServer(t)
	codec, versioner, err := apiserver.StorageCodec()
	if err != nil {
		t.Fatalf("storage codec: %v", err)
	}
	config.Codec = codec
	config.EncodeVersioner = versioner
	return &Storage{Config: config}
}

// GetRESTOptions implements generic.RESTOptionsGetter: undecorated storage (no watch cache),
// with the same key layout as the server (<prefix>/image.openshift.io/<resource>).
func (s *Storage) GetRESTOptions(resource schema.GroupResource, _ runtime.Object) (generic.RESTOptions, error) {
	return generic.RESTOptions{
		StorageConfig:           s.Config.ForResource(resource),
		Decorator:               generic.UndecoratedStorage,
		DeleteCollectionWorkers: 1,
		ResourcePrefix:          resource.Group + "/" + resource.Resource,
	}, nil
}

var _ generic.RESTOptionsGetter = &Storage{}

// ReadStored reads the raw value of key (a path under the storage prefix, e.g.
// "image.openshift.io/images/<name>"), fails the test unless it is protobuf, and returns it
// decoded with the kind it was stored as.
func (s *Storage) ReadStored(t testing.TB, key string) (runtime.Object, schema.GroupVersionKind) {
	t.Helper()
	client, err := clientv3.New(clientv3.Config{Endpoints: s.Config.Transport.ServerList, DialTimeout: 20 * time.Second})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	defer func() { _ = client.Close() }()
	full := path.Join(s.Config.Prefix, key)
	resp, err := client.Get(context.Background(), full)
	if err != nil {
		t.Fatalf("etcd get %s: %v", full, err)
	}
	if len(resp.Kvs) != 1 {
		t.Fatalf("etcd get %s: %d values", full, len(resp.Kvs))
	}
	value := resp.Kvs[0].Value
	if !bytes.HasPrefix(value, []byte("k8s\x00")) {
		t.Fatalf("stored value is not protobuf: %q", value[:min(len(value), 16)])
	}
	obj, gvk, err := protobuf.NewSerializer(apiserver.Scheme, apiserver.Scheme).Decode(value, nil, nil)
	if err != nil {
		t.Fatalf("decode stored value: %v", err)
	}
	return obj, *gvk
}
