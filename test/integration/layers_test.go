package integration

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

const (
	schema2Type      = "application/vnd.docker.distribution.manifest.v2+json"
	manifestListType = "application/vnd.docker.distribution.manifest.list.v2+json"
	dockerConfigType = "application/vnd.docker.container.image.v1+json"
	dockerLayerType  = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// manifestListImage builds the Image the registry sends for a pushed manifest list of
// children (images already pushed by digest).
func manifestListImage(ns string, children ...*imagev1.Image) *imagev1.Image {
	var entries []string
	for i, child := range children {
		entries = append(entries, fmt.Sprintf(`{"mediaType":%q,"size":%d,"digest":%q,"platform":{"architecture":"arch%d","os":"linux"}}`,
			schema2Type, len(child.DockerImageManifest), child.Name, i))
	}
	manifest := `{"schemaVersion":2,"mediaType":"` + manifestListType + `","manifests":[` + strings.Join(entries, ",") + `]}`
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(manifest)))
	return &imagev1.Image{
		ObjectMeta: metav1.ObjectMeta{Name: digest, Annotations: map[string]string{
			"image.openshift.io/manifestBlobStored": "true", "openshift.io/image.managed": "true",
		}},
		DockerImageReference:         "registry.test:5000/" + ns + "/app@" + digest,
		DockerImageManifest:          manifest,
		DockerImageManifestMediaType: manifestListType,
	}
}

// pushed returns a distinct registry-shaped schema2 image of repository ns/app.
func pushed(t *testing.T, ns, salt string) *imagev1.Image {
	img := pushedImage(t, ns+"-"+salt)
	img.DockerImageReference = "registry.test:5000/" + ns + "/app@" + img.Name
	return img
}

// eventuallyLayers polls the layers of a stream until done accepts them: the stream is read
// from the watch cache, which follows a write within milliseconds.
func eventuallyLayers(t *testing.T, c imageclient.Interface, ns, name string, done func(*imagev1.ImageStreamLayers) bool) *imagev1.ImageStreamLayers {
	t.Helper()
	var last *imagev1.ImageStreamLayers
	var lastErr error
	err := wait.PollUntilContextTimeout(testContext(t), 20*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		last, lastErr = c.ImageV1().ImageStreams(ns).Layers(ctx, name, metav1.GetOptions{})
		return lastErr == nil && done(last), nil
	})
	if err != nil {
		t.Fatalf("layers of %s/%s never became complete: last %+v, error %v", ns, name, last, lastErr)
	}
	return last
}

// hasImages is true when every name is in the answer and, unless missing, not missing.
func hasImages(names ...string) func(*imagev1.ImageStreamLayers) bool {
	return func(isl *imagev1.ImageStreamLayers) bool {
		for _, n := range names {
			if refs, ok := isl.Images[n]; !ok || refs.ImageMissing {
				return false
			}
		}
		return true
	}
}

// metricSum scrapes /metrics and sums the samples of metric whose labels include all of labels.
func metricSum(t *testing.T, s *framework.Server, metric string, labels ...string) float64 {
	t.Helper()
	code, body, _ := rawRequestAccept(t, s, "/metrics", "text/plain")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, metric+"{") && !strings.HasPrefix(line, metric+" ") {
			continue
		}
		matches := true
		for _, l := range labels {
			matches = matches && strings.Contains(line, l)
		}
		if !matches {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// TestImageStreamLayers: the registry's view of a stream, with history items, a manifest list
// with its children, a deleted image, and the errors.
func TestImageStreamLayers(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	forEachContentType(t, func(t *testing.T, ct string) {
		ctx := testContext(t)
		ns := "layers-" + shortName(ct)
		c := s.ImageClient(ct)
		stream := newStream("app")
		stream.Annotations = map[string]string{"team": "blue"}
		if _, err := c.ImageV1().ImageStreams(ns).Create(ctx, stream, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		first, second, gone := pushed(t, ns, "first"), pushed(t, ns, "second"), pushed(t, ns, "gone")
		arm, amd := pushed(t, ns, "arm"), pushed(t, ns, "amd")
		arm.Signatures = []imagev1.ImageSignature{{ObjectMeta: metav1.ObjectMeta{Name: arm.Name + "@sig"}, Type: "atomic", Content: []byte("signed")}}
		for _, child := range []*imagev1.Image{arm, amd} {
			if _, err := c.ImageV1().Images().Create(ctx, child, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		list := manifestListImage(ns, arm, amd)
		for _, m := range []struct {
			tag string
			img *imagev1.Image
		}{{"v1", first}, {"v1", second}, {"multi", list}, {"old", gone}} {
			if _, err := c.ImageV1().ImageStreamMappings(ns).Create(ctx, newMapping("app", m.tag, m.img), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.ImageV1().Images().Delete(ctx, gone.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}

		isl := eventuallyLayers(t, c, ns, "app", func(isl *imagev1.ImageStreamLayers) bool {
			return hasImages(first.Name, second.Name, list.Name, arm.Name, amd.Name)(isl) && isl.Images[gone.Name].ImageMissing
		})
		current, err := c.ImageV1().ImageStreams(ns).Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if isl.Name != "app" || isl.Namespace != ns || isl.UID != current.UID || isl.ResourceVersion != current.ResourceVersion ||
			isl.Generation != current.Generation || isl.Annotations["team"] != "blue" {
			t.Errorf("metadata is not the stream's: %+v", isl.ObjectMeta)
		}
		stored, err := c.ImageV1().Images().Get(ctx, first.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		config := decodeMetadata(t, stored).ID
		if refs := isl.Images[first.Name]; fmt.Sprint(refs.Layers) != fmt.Sprint([]string{digestOf(101), digestOf(102)}) ||
			refs.Config == nil || *refs.Config != config || refs.Manifests != nil || refs.ImageMissing {
			t.Errorf("images[first] = %+v, config %v; want the two layers and config %s", refs, refs.Config, config)
		}
		if b := isl.Blobs[digestOf(102)]; b.LayerSize == nil || *b.LayerSize != 200 || b.MediaType != dockerLayerType {
			t.Errorf("layer blob %+v", b)
		}
		if b := isl.Blobs[config]; b.LayerSize != nil || b.MediaType != dockerConfigType {
			t.Errorf("config blob %+v", b)
		}
		if b := isl.Blobs[first.Name]; b.LayerSize != nil || b.MediaType != schema2Type {
			t.Errorf("manifest blob %+v", b)
		}
		if refs := isl.Images[list.Name]; fmt.Sprint(refs.Manifests) != fmt.Sprint([]string{arm.Name, amd.Name}) || refs.Layers != nil || refs.Config != nil {
			t.Errorf("images[list] = %+v", refs)
		}
		if b := isl.Blobs[list.Name]; b.MediaType != manifestListType {
			t.Errorf("list manifest blob %+v", b)
		}
		if refs := isl.Images[arm.Name]; len(refs.Layers) != 2 || refs.Config == nil {
			t.Errorf("child images[arm] = %+v", refs)
		}
		if refs := isl.Images[gone.Name]; !refs.ImageMissing || refs.Layers != nil || refs.Config != nil {
			t.Errorf("deleted image: %+v", refs)
		}
		if _, ok := isl.Blobs[gone.Name]; ok {
			t.Error("a deleted image's manifest is listed as a blob")
		}
		// Images: first, second, list, arm, amd, gone. Blobs: 2 shared layers, 4 configs, 5 manifests.
		if len(isl.Images) != 6 || len(isl.Blobs) != 11 {
			t.Errorf("%d images, %d blobs; want 6 and 11", len(isl.Images), len(isl.Blobs))
		}

		_, err = c.ImageV1().ImageStreams(ns).Layers(ctx, "nope", metav1.GetOptions{})
		if se := statusError(t, err); se.ErrStatus.Code != 404 || se.ErrStatus.Message != `imagestreams.image.openshift.io "nope" not found` {
			t.Errorf("missing stream: %+v", se.ErrStatus)
		}

		// An empty stream answers empty maps, not nulls.
		if _, err := c.ImageV1().ImageStreams(ns).Create(ctx, newStream("empty"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventuallyLayers(t, c, ns, "empty", func(*imagev1.ImageStreamLayers) bool { return true })
		code, body, _ := rawRequest(t, s, "GET", "/apis/image.openshift.io/v1/namespaces/"+ns+"/imagestreams/empty/layers", "", nil)
		if code != 200 || !strings.Contains(string(body), `"kind":"ImageStreamLayers"`) || !strings.Contains(string(body), `"blobs":{}`) || !strings.Contains(string(body), `"images":{}`) {
			t.Errorf("empty stream layers: %d %s", code, body)
		}

		testImageStreamImages(t, s, c, ns, first, list, arm, gone)
	})
}

func testImageStreamImages(t *testing.T, s *framework.Server, c imageclient.Interface, ns string, first, list, arm, gone *imagev1.Image) {
	ctx := testContext(t)
	storedArm, err := c.ImageV1().Images().Get(ctx, arm.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A manifest list's child, by a prefix of its hex digits, with its signatures.
	hex := strings.TrimPrefix(arm.Name, "sha256:")
	isi, err := c.ImageV1().ImageStreamImages(ns).Get(ctx, "app@"+hex[:12], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if isi.Name != "app@"+hex[:12] || isi.Namespace != ns || isi.Annotations["team"] != "blue" || !isi.CreationTimestamp.Equal(&storedArm.CreationTimestamp) ||
		isi.UID != "" || isi.ResourceVersion != "" {
		t.Errorf("isimage metadata %+v", isi.ObjectMeta)
	}
	if isi.Image.Name != arm.Name || isi.Image.DockerImageReference != storedArm.DockerImageReference || len(isi.Image.Signatures) != 1 ||
		string(isi.Image.Signatures[0].Content) != "signed" || isi.Image.DockerImageManifest != "" || isi.Image.DockerImageConfig != "" ||
		len(isi.Image.DockerImageLayers) != 2 || len(isi.Image.DockerImageMetadata.Raw) == 0 {
		t.Errorf("isimage image %+v", isi.Image)
	}
	// By full digest, and by algorithm prefix.
	for _, id := range []string{first.Name, first.Name[:20], list.Name} {
		isi, err := c.ImageV1().ImageStreamImages(ns).Get(ctx, "app@"+id, metav1.GetOptions{})
		if err != nil || !strings.HasPrefix(isi.Image.Name, id) {
			t.Errorf("isimage app@%s: %v", id, err)
		}
	}

	errorCases := []struct {
		name, message string
		code          int32
	}{
		{"app", "ImageStreamImages must be retrieved with <name>@<id>", 400},
		{"app@zzz", `imagestreamimage.image.openshift.io "app@zzz" not found`, 404},
		{"app@" + gone.Name, `imagestreamimage.image.openshift.io "app@` + gone.Name + `" not found`, 404},
		{"nope@" + first.Name, `imagestreamimages.image.openshift.io "nope" not found`, 404},
		{"app@sha256:", "matches 5 images", 409},
	}
	for _, ec := range errorCases {
		_, err := c.ImageV1().ImageStreamImages(ns).Get(ctx, ec.name, metav1.GetOptions{})
		se := statusError(t, err)
		if se.ErrStatus.Code != ec.code || !strings.Contains(se.ErrStatus.Message, ec.message) {
			t.Errorf("isimage %s: %d %q, want %d %q", ec.name, se.ErrStatus.Code, se.ErrStatus.Message, ec.code, ec.message)
		}
	}

	out, err := kubectl(t, s, "", "get", "isimage", "app@"+first.Name, "-n", ns)
	if err != nil || !strings.Contains(out, "NAME") || !strings.Contains(out, "UPDATED") || strings.Contains(out, "IMAGE REFERENCE") ||
		!strings.Contains(out, "app@"+first.Name) || !strings.Contains(out, " ago") {
		t.Errorf("kubectl get isimage: %v\n%s", err, out)
	}
	out, err = kubectl(t, s, "", "get", "imagestreamimage", "app@"+first.Name, "-n", ns, "-o", "wide")
	if err != nil || !strings.Contains(out, "IMAGE REFERENCE") || !strings.Contains(out, "IMAGE NAME") || !strings.Contains(out, first.DockerImageReference) {
		t.Errorf("kubectl get isimage -o wide: %v\n%s", err, out)
	}
}

// TestLayersFromCaches: once a stream and its images are cached, layers answers read nothing
// from etcd, as the server's own etcd request counter shows; a deleted image costs one read.
func TestLayersFromCaches(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	ctx := testContext(t)
	const ns = "cached"
	c := s.ImageClient(framework.ContentTypes[1])
	resources, err := c.Discovery().ServerResourcesForGroupVersion("image.openshift.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, r := range resources.APIResources {
		switch r.Name {
		case "imagestreamimages":
			found++
			if !r.Namespaced || r.Kind != "ImageStreamImage" || r.SingularName != "imagestreamimage" || fmt.Sprint(r.ShortNames) != "[isimage]" || fmt.Sprint(r.Verbs) != "[get]" {
				t.Errorf("imagestreamimages resource %+v", r)
			}
		case "imagestreams/layers":
			found++
			if r.Kind != "ImageStreamLayers" || fmt.Sprint(r.Verbs) != "[get]" {
				t.Errorf("imagestreams/layers resource %+v", r)
			}
		}
	}
	if found != 2 {
		t.Errorf("discovery lists %d of imagestreamimages and imagestreams/layers", found)
	}
	if _, err := c.ImageV1().ImageStreams(ns).Create(ctx, newStream("hot"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	arm, amd, plain, gone := pushed(t, ns, "arm"), pushed(t, ns, "amd"), pushed(t, ns, "plain"), pushed(t, ns, "gone")
	for _, child := range []*imagev1.Image{arm, amd} {
		if _, err := c.ImageV1().Images().Create(ctx, child, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	list := manifestListImage(ns, arm, amd)
	for _, img := range []*imagev1.Image{plain, list} {
		if _, err := c.ImageV1().ImageStreamMappings(ns).Create(ctx, newMapping("hot", "latest", img), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The index learns the images from its watch, before any layers request asks for them.
	if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return metricSum(t, s, "openshift_image_apiserver_image_index_images") == 4, nil
	}); err != nil {
		t.Fatalf("the index never held the 4 images: %v", metricSum(t, s, "openshift_image_apiserver_image_index_images"))
	}
	// The stream cache, likewise, holds the stream from its watch.
	if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return metricSum(t, s, "openshift_image_apiserver_imagestream_cache_streams") == 1, nil
	}); err != nil {
		t.Fatalf("the stream cache never held the stream: %v", metricSum(t, s, "openshift_image_apiserver_imagestream_cache_streams"))
	}
	if v := metricSum(t, s, "openshift_image_apiserver_image_index_bytes"); v <= 0 {
		t.Errorf("image_index_bytes = %v", v)
	}
	etcdGets := func() float64 {
		return metricSum(t, s, "etcd_requests_total", `operation="get"`, `group="image.openshift.io"`)
	}
	misses := func() float64 { return metricSum(t, s, "openshift_image_apiserver_image_index_misses_total") }
	missesBefore := misses()
	eventuallyLayers(t, c, ns, "hot", hasImages(plain.Name, list.Name, arm.Name, amd.Name))
	getsBefore := etcdGets()
	const calls = 10
	for range calls {
		isl, err := c.ImageV1().ImageStreams(ns).Layers(ctx, "hot", metav1.GetOptions{})
		if err != nil || !hasImages(plain.Name, list.Name, arm.Name, amd.Name)(isl) {
			t.Fatalf("layers: %v %+v", err, isl)
		}
	}
	if d := etcdGets() - getsBefore; d != 0 {
		t.Errorf("%d layers answers from the caches made %v etcd gets, want 0", calls, d)
	}
	if d := misses() - missesBefore; d != 0 {
		t.Errorf("layers answers of indexed images missed the index %v times", d)
	}

	// The counters do move: a deleted image is confirmed with one etcd read per answer.
	if _, err := c.ImageV1().ImageStreamMappings(ns).Create(ctx, newMapping("hot", "old", gone), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.ImageV1().Images().Delete(ctx, gone.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventuallyLayers(t, c, ns, "hot", func(isl *imagev1.ImageStreamLayers) bool { return isl.Images[gone.Name].ImageMissing })
	getsBefore, missesBefore = etcdGets(), misses()
	if _, err := c.ImageV1().ImageStreams(ns).Layers(ctx, "hot", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if d := etcdGets() - getsBefore; d != 1 {
		t.Errorf("a layers answer with one deleted image made %v etcd gets, want 1", d)
	}
	if d := misses() - missesBefore; d != 1 {
		t.Errorf("index misses moved by %v, want 1", d)
	}
}

// TestLayersWithoutIndex: with --image-index-max-bytes=0 there is no index: layers and
// imagestreamimages answer at once (no 504), reading every image from etcd, and the answers are
// the same.
func TestLayersWithoutIndex(t *testing.T) {
	s := framework.StartServer(t, framework.Options{ExtraArgs: []string{"--image-index-max-bytes=0"}})
	ctx := testContext(t)
	c := s.ImageClient(framework.ContentTypes[1])
	img := pushTo(t, c, "noindex", "app", "v1", "noindex")
	layers, err := c.ImageV1().ImageStreams("noindex").Layers(ctx, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	refs, ok := layers.Images[img.Name]
	if !ok || refs.ImageMissing || len(refs.Layers) != len(img.DockerImageLayers) || refs.Config == nil {
		t.Errorf("layers without the index: %+v", layers.Images)
	}
	for _, l := range img.DockerImageLayers {
		if _, ok := layers.Blobs[l.Name]; !ok {
			t.Errorf("blob %s missing", l.Name)
		}
	}
	isi, err := c.ImageV1().ImageStreamImages("noindex").Get(ctx, "app@"+img.Name[len("sha256:"):len("sha256:")+12], metav1.GetOptions{})
	if err != nil || isi.Image.Name != img.Name {
		t.Errorf("imagestreamimage without the index: %v %+v", err, isi)
	}
	if misses := metricSum(t, s, "openshift_image_apiserver_image_index_misses_total"); misses < 2 {
		t.Errorf("%v index misses: the answers should have read the image from etcd", misses)
	}
}
