package imageindex

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/apimachinery/pkg/runtime"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
)

// Shape of the registry-shaped images measured: 12 layers each, the first baseLayers of them
// a base image stack shared with the other images built on that base (one of baseImages).
const (
	layersPerImage = 12
	baseLayers     = 6
	baseImages     = 20
)

// registryImage builds image i as the integrated registry stores it after a schema2 push:
// derived layers, the metadata (whose Id is the config digest) and no manifest or config.
func registryImage(i int) *imagev1.Image {
	name := fmt.Sprintf("sha256:%064x", 1<<40+i)
	img := &imagev1.Image{
		ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: strconv.Itoa(i + 1), Annotations: map[string]string{
			"image.openshift.io/dockerLayersOrder": "ascending", "openshift.io/image.managed": "true",
		}},
		DockerImageReference:         "image-registry.openshift-image-registry.svc:5000/ns/app@" + name,
		DockerImageManifestMediaType: imageutil.MediaTypeSchema2Manifest,
		DockerImageMetadata: runtimeapi.RawExtension{Raw: fmt.Appendf(nil,
			`{"kind":"DockerImage","apiVersion":"image.openshift.io/1.0","Id":"sha256:%064x","Created":"2024-05-06T07:08:09Z","ContainerConfig":{},"Config":{"Env":["PATH=/usr/bin"]},"Architecture":"amd64","Size":123456789}`,
			2<<40+i)},
	}
	base := i % baseImages
	for l := 0; l < layersPerImage; l++ {
		digest := fmt.Sprintf("sha256:%064x", 3<<40+i*layersPerImage+l)
		if l < baseLayers {
			digest = fmt.Sprintf("sha256:%064x", 4<<40+base*baseLayers+l)
		}
		img.DockerImageLayers = append(img.DockerImageLayers, imagev1.ImageLayer{
			Name: digest, LayerSize: int64(1000 + l), MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
		})
	}
	return img
}

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// measure indexes n registry-shaped images one by one (each built, added and dropped, so
// only the index's share stays live) and returns the heap growth and the index's estimate.
func measure(n int) (heapPerImage, estimatePerImage float64, x *Index) {
	before := heapInUse()
	x = New()
	f := feed{x}
	for i := 0; i < n; i++ {
		_ = f.Update(registryImage(i))
	}
	after := heapInUse()
	return float64(after-before) / float64(n), float64(x.Bytes()) / float64(n), x
}

// BenchmarkIndexMemory reports the index's memory per image for IMAGE_INDEX_BENCH_IMAGES
// registry-shaped images (default 100 000): the Go heap growth and the index's own estimate.
// It runs once whatever b.N is:
//
//	go test -run '^$' -bench BenchmarkIndexMemory -benchtime 1x ./pkg/imageindex/
func BenchmarkIndexMemory(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("IMAGE_INDEX_BENCH_IMAGES")); err == nil && v > 0 {
		n = v
	}
	heap, estimate, x := measure(n)
	b.ReportMetric(heap, "heap-B/image")
	b.ReportMetric(estimate, "estimate-B/image")
	b.ReportMetric(float64(n), "images")
	b.Logf("%d images (%d layers each, %d shared from %d bases): heap %.0f B/image (%.1f MiB), estimate %.0f B/image (%.1f MiB), %d media types",
		n, layersPerImage, baseLayers, baseImages, heap, heap*float64(n)/(1<<20), estimate, float64(x.Bytes())/(1<<20), len(x.mediaTypes))
	runtime.KeepAlive(x)
}

// TestIndexMemoryEstimate: with a small number of images, the estimate stays within its budget
// (about 1.5 KiB for this shape, mostly the image's own 8 digests: name, config and 6 layers)
// and the heap measurement agrees with it to within a factor of two, so the bytes metric can
// be trusted.
func TestIndexMemoryEstimate(t *testing.T) {
	heap, estimate, x := measure(5000)
	t.Logf("5000 images: heap %.0f B/image, estimate %.0f B/image", heap, estimate)
	if estimate > 1600 {
		t.Errorf("estimate %.0f B/image, want at most 1600", estimate)
	}
	if heap > 2*estimate || heap < estimate/2 {
		t.Errorf("heap growth %.0f B/image is far from the estimate %.0f B/image", heap, estimate)
	}
	runtime.KeepAlive(x)
}
