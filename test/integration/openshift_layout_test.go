package integration

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/image-apiserver/image-apiserver/pkg/storage/layout"
	"github.com/image-apiserver/image-apiserver/pkg/storage/layout/layouttest"
	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

// openShiftKey is where openshift-apiserver keeps an object: /openshift.io/images/<name> or
// /openshift.io/imagestreams/<namespace>/<name>.
func openShiftKey(obj runtime.Object) string {
	switch o := obj.(type) {
	case *imagev1.Image:
		return layout.OpenShift.Root("/openshift.io", imagev1.Resource("images")) + o.Name
	case *imagev1.ImageStream:
		return layout.OpenShift.Root("/openshift.io", imagev1.Resource("imagestreams")) + o.Namespace + "/" + o.Name
	}
	panic("no OpenShift key for " + obj.GetObjectKind().GroupVersionKind().String())
}

// openShiftObject is an Image or ImageStream of openshift/api.
type openShiftObject interface {
	runtime.Object
	Marshal() ([]byte, error)
}

// putOpenShift writes objects straight into etcd, in the shape and at the keys of
// openshift-apiserver, in one transaction.
func putOpenShift(t *testing.T, ctx context.Context, cli *clientv3.Client, objs ...openShiftObject) {
	t.Helper()
	var puts []clientv3.Op
	for _, obj := range objs {
		value, err := layouttest.Encode(obj)
		if err != nil {
			t.Fatal(err)
		}
		puts = append(puts, clientv3.OpPut(openShiftKey(obj), string(value)))
	}
	if _, err := cli.Txn(ctx).Then(puts...).Commit(); err != nil {
		t.Fatal(err)
	}
}

// readOpenShift reads the value at an object's OpenShift key as openshift-apiserver would,
// failing unless it is in OpenShift's envelope, and returns its modRevision.
func readOpenShift(t *testing.T, ctx context.Context, cli *clientv3.Client, key string, into interface {
	runtime.Object
	Unmarshal([]byte) error
}) int64 {
	t.Helper()
	resp, err := cli.Get(ctx, key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("etcd get %s: %v, %d values", key, err, len(resp.Kvs))
	}
	if err := layouttest.Decode(resp.Kvs[0].Value, into); err != nil {
		t.Fatalf("%s is not what openshift-apiserver reads: %v", key, err)
	}
	return resp.Kvs[0].ModRevision
}

// dockerID is the image id of an image's docker metadata.
func dockerID(t *testing.T, img *imagev1.Image) string {
	t.Helper()
	var meta struct{ Id string }
	if err := json.Unmarshal(img.DockerImageMetadata.Raw, &meta); err != nil {
		t.Fatalf("dockerImageMetadata of %s: %v (%q)", img.Name, err, img.DockerImageMetadata.Raw)
	}
	return meta.Id
}

// TestOpenShiftLayout serves an etcd that holds openshift-apiserver's data, written straight
// into etcd in exactly its shape (openshift/api messages in the protobuf envelope, no
// managedFields, metadata JSON ending in a newline) at its keys, through the real server
// over HTTPS with --storage-layout=openshift: GET, LIST and WATCH with openshift/client-go in
// JSON and protobuf and with kubectl, the layers of the image index and stream cache, and a
// mapping that appends to such a stream in one transaction, after which etcd holds what
// openshift-apiserver reads; so do a stream created and tagged through the API and a signature
// write. Nothing is ever written outside OpenShift's keys.
func TestOpenShiftLayout(t *testing.T) {
	etcd := framework.StartEtcdTLS(t)
	cli, err := etcd.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := testContext(t)

	images := []*imagev1.Image{layouttest.Image(1, "legacy", "app"), layouttest.Image(2, "legacy", "app"), layouttest.Image(3, "legacy", "app")}
	stream := layouttest.ImageStream("legacy", "app", 1, images...)
	putOpenShift(t, ctx, cli, images[0], images[1], images[2], stream)

	s := framework.StartServer(t, framework.Options{ExtraArgs: append(etcd.ServerArgs(), "--storage-layout=openshift")})
	if !strings.Contains(s.Log(), `"Storage layout" layout="openshift" images="/openshift.io/images/" imagestreams="/openshift.io/imagestreams/"`) {
		t.Errorf("the server does not log its layout and keys")
	}

	for i, ct := range framework.ContentTypes {
		t.Run(shortName(ct), func(t *testing.T) {
			c := s.ImageClient(ct)
			for _, want := range images {
				got, err := c.ImageV1().Images().Get(ctx, want.Name, metav1.GetOptions{})
				if err != nil {
					t.Fatalf("GET image %s: %v", want.Name, err)
				}
				if got.UID != want.UID || got.DockerImageReference != want.DockerImageReference || len(got.DockerImageLayers) != 2 ||
					got.DockerImageLayers[1] != want.DockerImageLayers[1] || dockerID(t, got) != dockerID(t, want) {
					t.Errorf("GET image %s: %+v, want OpenShift's %+v", want.Name, got, want)
				}
			}
			got, err := c.ImageV1().ImageStreams("legacy").Get(ctx, "app", metav1.GetOptions{})
			if err != nil {
				t.Fatalf("GET imagestream: %v", err)
			}
			if got.UID != stream.UID || got.Generation != 1 || len(got.Spec.Tags) != 1 || got.Spec.Tags[0].Name != "stable" {
				t.Errorf("GET imagestream: %+v, want OpenShift's %+v", got, stream)
			}
			want := []string{images[2].Name, images[1].Name, images[0].Name}
			if h := history(t, c, "legacy", "app", "latest"); i == 0 && !slices.Equal(h, want) {
				t.Errorf("history of latest: %v, want %v", h, want)
			}

			imageList, err := c.ImageV1().Images().List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatalf("LIST images: %v", err)
			}
			var names []string
			for _, img := range imageList.Items {
				names = append(names, img.Name)
			}
			for _, img := range images {
				if !slices.Contains(names, img.Name) {
					t.Errorf("LIST images lacks %s: %v", img.Name, names)
				}
			}
			streamList, err := c.ImageV1().ImageStreams(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
			if err != nil || len(streamList.Items) < 1 || streamList.Items[0].Name != "app" {
				t.Fatalf("LIST imagestreams: %v, %+v", err, streamList)
			}

			// WATCH from the lists' revisions sees what openshift-apiserver writes next.
			imageWatch, err := c.ImageV1().Images().Watch(ctx, metav1.ListOptions{ResourceVersion: imageList.ResourceVersion})
			if err != nil {
				t.Fatal(err)
			}
			defer imageWatch.Stop()
			streamWatch, err := c.ImageV1().ImageStreams(metav1.NamespaceAll).Watch(ctx, metav1.ListOptions{ResourceVersion: streamList.ResourceVersion})
			if err != nil {
				t.Fatal(err)
			}
			defer streamWatch.Stop()
			newImage := layouttest.Image(10+i, "watched", "web")
			newStream := layouttest.ImageStream("watched-"+shortName(ct), "web", 10+i, newImage)
			putOpenShift(t, ctx, cli, newImage, newStream)
			if e := nextEvent(t, imageWatch); e.Type != watch.Added || e.Object.(*imagev1.Image).Name != newImage.Name || dockerID(t, e.Object.(*imagev1.Image)) != dockerID(t, newImage) {
				t.Errorf("image watch: %s %+v, want ADDED %s", e.Type, e.Object, newImage.Name)
			}
			if e := nextEvent(t, streamWatch); e.Type != watch.Added || e.Object.(*imagev1.ImageStream).Namespace != newStream.Namespace {
				t.Errorf("imagestream watch: %s %+v, want ADDED %s/%s", e.Type, e.Object, newStream.Namespace, newStream.Name)
			}
		})
	}

	t.Run("kubectl", func(t *testing.T) {
		out, err := kubectl(t, s, "", "get", "images", "-o", "name")
		if err != nil {
			t.Fatalf("kubectl get images: %v\n%s", err, out)
		}
		for _, img := range images {
			if !strings.Contains(out, "image.image.openshift.io/"+img.Name) {
				t.Errorf("kubectl get images lacks %s:\n%s", img.Name, out)
			}
		}
		out, err = kubectl(t, s, "", "get", "is", "app", "-n", "legacy", "-o", "jsonpath={.status.tags[0].items[*].image}")
		if err != nil || out != strings.Join([]string{images[2].Name, images[1].Name, images[0].Name}, " ") {
			t.Errorf("kubectl get is: %v %q", err, out)
		}
	})

	t.Run("layers from the index and the stream cache", func(t *testing.T) {
		c := s.ImageClient(framework.ContentTypes[1])
		layers := eventuallyLayers(t, c, "legacy", "app", hasImages(images[0].Name, images[1].Name, images[2].Name))
		for _, img := range images {
			for _, l := range img.DockerImageLayers {
				if _, ok := layers.Blobs[l.Name]; !ok {
					t.Errorf("layers lack blob %s of %s", l.Name, img.Name)
				}
			}
		}
		if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			return metricSum(t, s, "openshift_image_apiserver_image_index_images") >= float64(len(images)), nil
		}); err != nil {
			t.Errorf("the image index never held OpenShift's images: %v", metricSum(t, s, "openshift_image_apiserver_image_index_images"))
		}
		if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			return metricSum(t, s, "openshift_image_apiserver_imagestream_cache_streams") >= 1, nil
		}); err != nil {
			t.Errorf("the stream cache never held OpenShift's stream")
		}
	})

	t.Run("a mapping appends in one transaction, in OpenShift's shape", func(t *testing.T) {
		c := s.ImageClient(framework.ContentTypes[1])
		pushed := pushedImage(t, "openshift-layout")
		pushed.DockerImageReference = layouttest.Registry + "/legacy/app@" + pushed.Name
		if _, err := c.ImageV1().ImageStreamMappings("legacy").Create(ctx, newMapping("app", "latest", pushed), metav1.CreateOptions{}); err != nil {
			t.Fatalf("mapping: %v", err)
		}
		var stored imagev1.ImageStream
		streamRev := readOpenShift(t, ctx, cli, openShiftKey(stream), &stored)
		var storedImage imagev1.Image
		imageRev := readOpenShift(t, ctx, cli, openShiftKey(&imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: pushed.Name}}), &storedImage)
		if streamRev != imageRev {
			t.Errorf("the image (revision %d) and the stream (revision %d) were not written in one transaction", imageRev, streamRev)
		}
		if storedImage.Name != pushed.Name || storedImage.DockerImageReference != pushed.DockerImageReference {
			t.Errorf("stored image %s %s, want %s %s", storedImage.Name, storedImage.DockerImageReference, pushed.Name, pushed.DockerImageReference)
		}
		var items []string
		for _, tl := range stored.Status.Tags {
			if tl.Tag == "latest" {
				for _, it := range tl.Items {
					items = append(items, it.Image)
				}
			}
		}
		want := []string{pushed.Name, images[2].Name, images[1].Name, images[0].Name}
		if !slices.Equal(items, want) {
			t.Errorf("stored history of latest: %v, want %v", items, want)
		}
		if stored.UID != stream.UID || len(stored.Spec.Tags) != 1 || stored.Spec.Tags[0].Name != "stable" || stored.ResourceVersion != "" {
			t.Errorf("stored stream lost OpenShift's fields or kept a resourceVersion: %+v", stored)
		}
	})

	t.Run("objects created through the API are readable by OpenShift", func(t *testing.T) {
		c := s.ImageClient(framework.ContentTypes[0])
		if _, err := c.ImageV1().ImageStreams("fresh").Create(ctx, newStream("web", "v1"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var stored imagev1.ImageStream
		readOpenShift(t, ctx, cli, openShiftKey(&imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: "fresh", Name: "web"}}), &stored)
		if stored.Name != "web" || len(stored.Spec.Tags) != 1 {
			t.Errorf("stored stream %+v", stored)
		}
		// The field manager's record is kept, as OpenShift's own server keeps it (see package
		// layout): OpenShift decodes it like any ObjectMeta field.
		if len(stored.ManagedFields) == 0 {
			t.Errorf("stored stream has no managedFields")
		}
		tag := &imagev1.ImageStreamTag{ObjectMeta: metav1.ObjectMeta{Name: "web:v2"}, Tag: &imagev1.TagReference{
			Name: "v2", From: &corev1.ObjectReference{Kind: "ImageStreamImage", Name: "app@" + images[0].Name, Namespace: "legacy"},
		}}
		if _, err := c.ImageV1().ImageStreamTags("fresh").Create(ctx, tag, metav1.CreateOptions{}); err != nil {
			t.Fatalf("imagestreamtag: %v", err)
		}
		var tagged imagev1.ImageStream
		readOpenShift(t, ctx, cli, openShiftKey(&imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: "fresh", Name: "web"}}), &tagged)
		if len(tagged.Spec.Tags) != 2 || tagged.Spec.Tags[1].Name != "v2" {
			t.Errorf("the tag write is not in the stored stream: %+v", tagged.Spec.Tags)
		}
	})

	t.Run("a signature lands in OpenShift's image", func(t *testing.T) {
		c := s.ImageClient(framework.ContentTypes[1])
		sig := newSignature(images[0].Name, "sig1", "signed by the test")
		if _, err := c.ImageV1().ImageSignatures().Create(ctx, sig, metav1.CreateOptions{}); err != nil {
			t.Fatalf("imagesignature: %v", err)
		}
		var stored imagev1.Image
		readOpenShift(t, ctx, cli, openShiftKey(images[0]), &stored)
		if len(stored.Signatures) != 1 || stored.Signatures[0].Name != sig.Name || string(stored.DockerImageMetadata.Raw) != string(images[0].DockerImageMetadata.Raw) {
			t.Errorf("stored image after a signature write: %d signatures, metadata %q", len(stored.Signatures), stored.DockerImageMetadata.Raw)
		}
	})

	// Every key in etcd is one of OpenShift's (the compactor's revision key aside).
	all, err := cli.Get(ctx, "", clientv3.WithFromKey(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range all.Kvs {
		key := string(kv.Key)
		if !strings.HasPrefix(key, "/openshift.io/images/") && !strings.HasPrefix(key, "/openshift.io/imagestreams/") && key != "compact_rev_key" {
			t.Errorf("the server wrote %s, outside OpenShift's keys", key)
		}
	}
}
