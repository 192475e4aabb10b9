package layout_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/image-apiserver/image-apiserver/pkg/registry/registrytest"
	"github.com/image-apiserver/image-apiserver/pkg/storage/layout"
	"github.com/image-apiserver/image-apiserver/pkg/storage/layout/layouttest"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    layout.Layout
		wantErr bool
	}{
		{in: "", want: layout.Default},
		{in: "default", want: layout.Default},
		{in: "openshift", want: layout.OpenShift},
		{in: "OpenShift", wantErr: true},
		{in: "kubernetes", wantErr: true},
	}
	for _, tc := range tests {
		got, err := layout.Parse(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("Parse(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "default or openshift") {
			t.Errorf("Parse(%q) error %q does not list the valid layouts", tc.in, err)
		}
	}
}

func TestRoot(t *testing.T) {
	images, streams := imagev1.Resource("images"), imagev1.Resource("imagestreams")
	tests := []struct {
		layout      layout.Layout
		prefix      string
		wantImages  string
		wantStreams string
	}{
		{layout: layout.Default, prefix: layout.Default.DefaultPrefix(), wantImages: "/registry/image.openshift.io/images/", wantStreams: "/registry/image.openshift.io/imagestreams/"},
		{layout: layout.OpenShift, prefix: layout.OpenShift.DefaultPrefix(), wantImages: "/openshift.io/images/", wantStreams: "/openshift.io/imagestreams/"},
		// The etcd3 store's normalisation: a leading slash added, a trailing one dropped.
		{layout: layout.OpenShift, prefix: "openshift.io", wantImages: "/openshift.io/images/", wantStreams: "/openshift.io/imagestreams/"},
		{layout: layout.OpenShift, prefix: "/openshift.io/", wantImages: "/openshift.io/images/", wantStreams: "/openshift.io/imagestreams/"},
		{layout: layout.Default, prefix: "", wantImages: "/image.openshift.io/images/", wantStreams: "/image.openshift.io/imagestreams/"},
		{layout: "", prefix: "/registry", wantImages: "/registry/image.openshift.io/images/", wantStreams: "/registry/image.openshift.io/imagestreams/"},
	}
	for _, tc := range tests {
		if got := tc.layout.Root(tc.prefix, images); got != tc.wantImages {
			t.Errorf("%s under %q: images at %s, want %s", tc.layout, tc.prefix, got, tc.wantImages)
		}
		if got := tc.layout.Root(tc.prefix, streams); got != tc.wantStreams {
			t.Errorf("%s under %q: imagestreams at %s, want %s", tc.layout, tc.prefix, got, tc.wantStreams)
		}
	}
}

// TestStoresAndTransactionsUseTheLayout builds the images and imagestreams Stores and the
// transaction Resources of the stream writer on a real etcd through the layout's
// RESTOptionsGetter, as the server does, and checks for each layout that:
//   - a value written straight into etcd in openshift-apiserver's shape at the layout's key is
//     read by the Stores' GET and LIST,
//   - decoding the value with the storage codec, as the Stores and the stream writer do, and
//     encoding it again gives back the very bytes stored (so a rewrite of an unchanged object
//     changes nothing OpenShift sees),
//   - the transaction Resource names the same key, and an object created through a Store
//     lands under the layout's root.
func TestStoresAndTransactionsUseTheLayout(t *testing.T) {
	for _, l := range []layout.Layout{layout.Default, layout.OpenShift} {
		t.Run(string(l), func(t *testing.T) {
			storage := registrytest.NewStorage(t)
			storage.Config.Prefix = l.DefaultPrefix()
			env := registrytest.NewStreamEnvWith(t, storage, l.RESTOptionsGetter(storage))
			images, streams, imageRes, streamRes, client := env.Images, env.Streams, env.ImageRes, env.StreamRes, env.Client
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()

			img := layouttest.Image(1, "team", "app")
			stream := layouttest.ImageStream("team", "app", 1, img)
			imageKey := l.Root(l.DefaultPrefix(), imagev1.Resource("images")) + img.Name
			streamKey := l.Root(l.DefaultPrefix(), imagev1.Resource("imagestreams")) + "team/app"
			for key, obj := range map[string]interface {
				runtime.Object
				Marshal() ([]byte, error)
			}{imageKey: img, streamKey: stream} {
				value, err := layouttest.Encode(obj)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := client.Put(ctx, key, string(value)); err != nil {
					t.Fatal(err)
				}
			}

			if key, err := imageRes.Key(ctx, "", img.Name); err != nil || key != imageKey {
				t.Errorf("transaction key of the image: %q, %v; want %q", key, err, imageKey)
			}
			if key, err := streamRes.Key(ctx, "team", "app"); err != nil || key != streamKey {
				t.Errorf("transaction key of the stream: %q, %v; want %q", key, err, streamKey)
			}

			if _, err := images.Get(ctx, img.Name, &metav1.GetOptions{}); err != nil {
				t.Fatalf("GET image: %v", err)
			}
			nsCtx := genericapirequest.WithNamespace(ctx, "team")
			gotStream, err := streams.Get(nsCtx, "app", &metav1.GetOptions{})
			if err != nil {
				t.Fatalf("GET imagestream: %v", err)
			}
			if got := gotStream.(*imagev1.ImageStream); len(got.Status.Tags) != 2 || got.Status.Tags[0].Items[0].Image != img.Name {
				t.Errorf("stream read through the Store has status tags %+v, want latest -> %s", got.Status.Tags, img.Name)
			}
			list, err := images.List(ctx, &metainternalversion.ListOptions{})
			if err != nil || len(list.(*imagev1.ImageList).Items) != 1 {
				t.Errorf("LIST images: %v, %v; want the one image", list, err)
			}
			for key, res := range map[string]*txn.Resource{imageKey: imageRes, streamKey: streamRes} {
				stored, err := client.Get(ctx, key)
				if err != nil || len(stored.Kvs) != 1 {
					t.Fatalf("etcd get %s: %v", key, err)
				}
				obj := res.New()
				if err := res.Decode(ctx, key, stored.Kvs[0].Value, stored.Kvs[0].ModRevision, obj); err != nil {
					t.Fatal(err)
				}
				again, err := res.Encode(ctx, key, obj)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(again, stored.Kvs[0].Value) {
					t.Errorf("%s: the value read and encoded again differs from openshift-apiserver's bytes", key)
				}
			}

			created := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "created", Namespace: "team"}}
			if _, err := streams.Create(nsCtx, created, nil, &metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			want := l.Root(l.DefaultPrefix(), imagev1.Resource("imagestreams")) + "team/created"
			if resp, err := client.Get(ctx, want, clientv3.WithCountOnly()); err != nil || resp.Count != 1 {
				t.Errorf("a stream created through the Store is not at %s: %v", want, err)
			}
			all, err := client.Get(ctx, "", clientv3.WithFromKey(), clientv3.WithKeysOnly())
			if err != nil {
				t.Fatal(err)
			}
			for _, kv := range all.Kvs {
				if !strings.HasPrefix(string(kv.Key), l.DefaultPrefix()+"/") {
					t.Errorf("key %s is outside the layout's prefix %s", kv.Key, l.DefaultPrefix())
				}
			}
		})
	}
}
