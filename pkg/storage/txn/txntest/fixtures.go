package txntest

import (
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage/storagebackend"

	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
)

// FakeFixtures builds the images and imagestreams Resources with the server's storage codec
// and key layout, without a Store or etcd, for
// use with Fake.
func FakeFixtures(t testing.TB) Fixtures {
	t.Helper()
	codec, _, err := apiserver.StorageCodec()
	if err != nil {
		t.Fatalf("storage codec: %v", err)
	}
	build := func(resource string, namespaced bool, newFunc func() runtime.Object) *txn.Resource {
		gr := imagev1.Resource(resource)
		r, err := txn.NewResource(txn.ResourceConfig{
			GroupResource:   gr,
			NamespaceScoped: namespaced,
			RESTOptions: generic.RESTOptions{
				StorageConfig:  &storagebackend.ConfigForResource{Config: storagebackend.Config{Prefix: "/registry", Codec: codec}, GroupResource: gr},
				ResourcePrefix: gr.Group + "/" + gr.Resource,
			},
			NewFunc: newFunc,
		})
		if err != nil {
			t.Fatalf("NewResource(%s): %v", gr, err)
		}
		return r
	}
	return Fixtures{
		Images:       build("images", false, func() runtime.Object { return &imagev1.Image{} }),
		ImageStreams: build("imagestreams", true, func() runtime.Object { return &imagev1.ImageStream{} }),
	}
}
