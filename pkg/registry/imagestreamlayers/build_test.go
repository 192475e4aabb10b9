package imagestreamlayers

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/imageindex"
)

const layerType = "application/vnd.docker.image.rootfs.diff.tar.gzip"

func digest(n int) string { return fmt.Sprintf("sha256:%064x", n) }

func streamWith(tags map[string][]string) *imagev1.ImageStream {
	s := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns", UID: "u1", ResourceVersion: "42",
		Annotations: map[string]string{"a": "b"}}}
	for _, tag := range []string{"latest", "v1", "v2"} {
		images, ok := tags[tag]
		if !ok {
			continue
		}
		list := imagev1.NamedTagEventList{Tag: tag}
		for _, img := range images {
			list.Items = append(list.Items, imagev1.TagEvent{Image: img})
		}
		s.Status.Tags = append(s.Status.Tags, list)
	}
	return s
}

func schema2(n int, layers ...int) imageindex.Image {
	img := imageindex.Image{Name: digest(n), ManifestMediaType: imageutil.MediaTypeSchema2Manifest,
		Config: digest(n + 500), ConfigMediaType: imageindex.MediaTypeDockerConfig}
	for _, l := range layers {
		img.Layers = append(img.Layers, imageindex.Layer{Digest: digest(l), Size: int64(l), MediaType: layerType})
	}
	return img
}

func size(n int64) *int64 { return &n }

func ptr(s string) *string { return &s }

func lookupIn(images ...imageindex.Image) (Lookup, *[]string) {
	byName := map[string]imageindex.Image{}
	for _, img := range images {
		byName[img.Name] = img
	}
	var asked []string
	return func(name string) (imageindex.Image, bool, error) {
		asked = append(asked, name)
		img, ok := byName[name]
		return img, ok, nil
	}, &asked
}

func TestBuild(t *testing.T) {
	list := imageindex.Image{Name: digest(50), ManifestMediaType: imageutil.MediaTypeManifestList, Manifests: []string{digest(1), digest(60)}}
	old := imageindex.Image{Name: digest(3), Layers: []imageindex.Layer{{Digest: digest(100), Size: 999, MediaType: "other"}}}
	oci := imageindex.Image{Name: digest(4), ManifestMediaType: imageutil.MediaTypeOCIManifest, Config: digest(504), ConfigMediaType: imageindex.MediaTypeOCIConfig}
	cases := []struct {
		name   string
		stream *imagev1.ImageStream
		images []imageindex.Image
		blobs  map[string]imagev1.ImageLayerData
		refs   map[string]imagev1.ImageBlobReferences
		asked  int
	}{{
		name:   "empty stream: empty maps",
		stream: streamWith(nil),
		blobs:  map[string]imagev1.ImageLayerData{},
		refs:   map[string]imagev1.ImageBlobReferences{},
	}, {
		name:   "every history item, shared layers once, the first size wins",
		stream: streamWith(map[string][]string{"latest": {digest(1), digest(2)}, "v1": {digest(3)}}),
		images: []imageindex.Image{schema2(1, 100, 101), schema2(2, 100, 102), old},
		blobs: map[string]imagev1.ImageLayerData{
			digest(100): {LayerSize: size(100), MediaType: layerType},
			digest(101): {LayerSize: size(101), MediaType: layerType},
			digest(102): {LayerSize: size(102), MediaType: layerType},
			digest(501): {MediaType: imageindex.MediaTypeDockerConfig},
			digest(502): {MediaType: imageindex.MediaTypeDockerConfig},
			digest(1):   {MediaType: imageutil.MediaTypeSchema2Manifest},
			digest(2):   {MediaType: imageutil.MediaTypeSchema2Manifest},
			// No stored media type: schema2, as OpenShift assumes.
			digest(3): {MediaType: imageutil.MediaTypeSchema2Manifest},
		},
		refs: map[string]imagev1.ImageBlobReferences{
			digest(1): {Layers: []string{digest(100), digest(101)}, Config: ptr(digest(501))},
			digest(2): {Layers: []string{digest(100), digest(102)}, Config: ptr(digest(502))},
			digest(3): {Layers: []string{digest(100)}},
		},
		asked: 3,
	}, {
		name:   "manifest list: children walked, a missing child marked, an image in two tags looked up once",
		stream: streamWith(map[string][]string{"latest": {digest(50)}, "v1": {digest(1)}}),
		images: []imageindex.Image{list, schema2(1, 100)},
		blobs: map[string]imagev1.ImageLayerData{
			digest(50):  {MediaType: imageutil.MediaTypeManifestList},
			digest(1):   {MediaType: imageutil.MediaTypeSchema2Manifest},
			digest(100): {LayerSize: size(100), MediaType: layerType},
			digest(501): {MediaType: imageindex.MediaTypeDockerConfig},
		},
		refs: map[string]imagev1.ImageBlobReferences{
			digest(50): {Manifests: []string{digest(1), digest(60)}},
			digest(1):  {Layers: []string{digest(100)}, Config: ptr(digest(501))},
			digest(60): {ImageMissing: true},
		},
		asked: 3,
	}, {
		name:   "missing image: no blob for it; OCI config type",
		stream: streamWith(map[string][]string{"latest": {digest(7), digest(4)}, "v2": {""}}),
		images: []imageindex.Image{oci},
		blobs: map[string]imagev1.ImageLayerData{
			digest(4):   {MediaType: imageutil.MediaTypeOCIManifest},
			digest(504): {MediaType: imageindex.MediaTypeOCIConfig},
		},
		refs: map[string]imagev1.ImageBlobReferences{
			digest(7): {ImageMissing: true},
			digest(4): {Config: ptr(digest(504))},
		},
		asked: 2,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lookup, asked := lookupIn(tc.images...)
			got, err := Build(tc.stream, lookup)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.stream.ObjectMeta, got.ObjectMeta); diff != "" {
				t.Errorf("metadata (-stream +got)\n%s", diff)
			}
			if diff := cmp.Diff(tc.blobs, got.Blobs); diff != "" {
				t.Errorf("blobs (-want +got)\n%s", diff)
			}
			if diff := cmp.Diff(tc.refs, got.Images); diff != "" {
				t.Errorf("images (-want +got)\n%s", diff)
			}
			if len(*asked) != tc.asked {
				t.Errorf("looked up %v, want %d lookups", *asked, tc.asked)
			}
		})
	}
}

func TestBuildSelfContainingList(t *testing.T) {
	loop := imageindex.Image{Name: digest(1), ManifestMediaType: imageutil.MediaTypeManifestList, Manifests: []string{digest(1)}}
	lookup, asked := lookupIn(loop)
	got, err := Build(streamWith(map[string][]string{"latest": {digest(1)}}), lookup)
	if err != nil || len(got.Images) != 1 || len(*asked) != 1 {
		t.Fatalf("err %v, images %v, lookups %v", err, got, *asked)
	}
}

func TestBuildLookupError(t *testing.T) {
	boom := errors.New("etcd down")
	_, err := Build(streamWith(map[string][]string{"latest": {digest(1)}}), func(string) (imageindex.Image, bool, error) {
		return imageindex.Image{}, false, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want %v", err, boom)
	}
}
