package imageindex

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
)

const layerType = "application/vnd.docker.image.rootfs.diff.tar.gzip"

func digest(n int) string { return fmt.Sprintf("sha256:%064x", n) }

func image(name string, rv int, mediaType string, metadata string, layers ...imagev1.ImageLayer) *imagev1.Image {
	img := &imagev1.Image{
		ObjectMeta:                   metav1.ObjectMeta{Name: name, ResourceVersion: fmt.Sprint(rv)},
		DockerImageManifestMediaType: mediaType,
		DockerImageLayers:            layers,
	}
	if metadata != "" {
		img.DockerImageMetadata = runtime.RawExtension{Raw: []byte(metadata)}
	}
	return img
}

func layerOf(n int, size int64) imagev1.ImageLayer {
	return imagev1.ImageLayer{Name: digest(n), LayerSize: size, MediaType: layerType}
}

func TestCompactedView(t *testing.T) {
	list := image(digest(50), 1, imageutil.MediaTypeManifestList, `{"kind":"DockerImage","apiVersion":"image.openshift.io/1.0","Id":"`+digest(50)+`"}`)
	list.DockerImageManifests = []imagev1.ImageManifest{{Digest: digest(51)}, {Digest: digest(52)}}
	cases := []struct {
		name string
		in   *imagev1.Image
		want Image
	}{{
		name: "schema2: config is the metadata Id, Docker config type",
		in:   image(digest(1), 1, imageutil.MediaTypeSchema2Manifest, `{"kind":"DockerImage","apiVersion":"image.openshift.io/1.0","Id":"`+digest(9)+`","Created":null,"ContainerConfig":{}}`, layerOf(2, 20), layerOf(3, 30)),
		want: Image{Name: digest(1), ManifestMediaType: imageutil.MediaTypeSchema2Manifest, Config: digest(9), ConfigMediaType: MediaTypeDockerConfig,
			Layers: []Layer{{digest(2), 20, layerType}, {digest(3), 30, layerType}}},
	}, {
		name: "OCI: OCI config type",
		in:   image(digest(1), 1, imageutil.MediaTypeOCIManifest, `{"Id":"`+digest(9)+`"}`, layerOf(2, 20)),
		want: Image{Name: digest(1), ManifestMediaType: imageutil.MediaTypeOCIManifest, Config: digest(9), ConfigMediaType: MediaTypeOCIConfig,
			Layers: []Layer{{digest(2), 20, layerType}}},
	}, {
		name: "pre012 metadata: snake_case id",
		in:   image(digest(1), 1, imageutil.MediaTypeSchema2Manifest, `{"kind":"DockerImage","apiVersion":"image.openshift.io/pre012","id":"`+digest(9)+`"}`),
		want: Image{Name: digest(1), ManifestMediaType: imageutil.MediaTypeSchema2Manifest, Config: digest(9), ConfigMediaType: MediaTypeDockerConfig},
	}, {
		name: "schema1: no config blob",
		in:   image(digest(1), 1, imageutil.MediaTypeSchema1Manifest, `{"Id":"abc"}`, layerOf(2, 20)),
		want: Image{Name: digest(1), ManifestMediaType: imageutil.MediaTypeSchema1Manifest, Layers: []Layer{{digest(2), 20, layerType}}},
	}, {
		name: "no media type (old image): no config, type kept empty",
		in:   image(digest(1), 1, "", `{"Id":"`+digest(9)+`"}`, layerOf(2, 20)),
		want: Image{Name: digest(1), Layers: []Layer{{digest(2), 20, layerType}}},
	}, {
		name: "schema2 without metadata Id: no config",
		in:   image(digest(1), 1, imageutil.MediaTypeSchema2Manifest, `{"Id":""}`),
		want: Image{Name: digest(1), ManifestMediaType: imageutil.MediaTypeSchema2Manifest},
	}, {
		name: "unreadable metadata: no config",
		in:   image(digest(1), 1, imageutil.MediaTypeSchema2Manifest, `{not json`),
		want: Image{Name: digest(1), ManifestMediaType: imageutil.MediaTypeSchema2Manifest},
	}, {
		name: "a layer without a digest is left out",
		in:   image(digest(1), 1, imageutil.MediaTypeSchema1Manifest, "", imagev1.ImageLayer{Name: "", LayerSize: 5}, layerOf(2, 20)),
		want: Image{Name: digest(1), ManifestMediaType: imageutil.MediaTypeSchema1Manifest, Layers: []Layer{{digest(2), 20, layerType}}},
	}, {
		name: "manifest list: children, no config (list media type)",
		in:   list,
		want: Image{Name: digest(50), ManifestMediaType: imageutil.MediaTypeManifestList, Manifests: []string{digest(51), digest(52)}},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := New()
			if err := (feed{x}).Update(tc.in); err != nil {
				t.Fatal(err)
			}
			got, ok := x.Get(tc.in.Name)
			if !ok {
				t.Fatal("not indexed")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, View(tc.in), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("View (-want +got)\n%s", diff)
			}
			if _, ok := x.Get(digest(999)); ok {
				t.Error("an image never added was found")
			}
		})
	}
}

// TestCompactFormAndBytes: sha256 images are packed (digests as 32 bytes, media types as a
// table index) and read back exactly; other digests are kept as text; every entry's bytes are
// accounted for, and deleting everything returns the index to zero.
func TestCompactFormAndBytes(t *testing.T) {
	x := New()
	f := feed{x}
	const n = 50
	for i := 0; i < n; i++ {
		img := image(digest(1000+i), i+1, imageutil.MediaTypeSchema2Manifest, `{"Id":"`+digest(2000+i)+`"}`,
			layerOf(1, 100), layerOf(2, 200), layerOf(3000+i, 5))
		if err := f.Update(img); err != nil {
			t.Fatal(err)
		}
	}
	sha512 := "sha512:" + strings.Repeat("ab", 64)
	odd := image(sha512, 60, imageutil.MediaTypeSchema2Manifest, "", layerOf(1, 100))
	upper := image(digest(5000), 61, imageutil.MediaTypeSchema2Manifest, "", imagev1.ImageLayer{Name: "sha256:" + strings.Repeat("AB", 32), LayerSize: 1})
	for _, img := range []*imagev1.Image{odd, upper} {
		if err := f.Update(img); err != nil {
			t.Fatal(err)
		}
	}
	if len(x.images) != n || len(x.odd) != 2 || len(x.mediaTypes) != 3 {
		t.Errorf("%d packed, %d odd, %d media types; want %d, 2, 3 (\"\", manifest, layer)", len(x.images), len(x.odd), len(x.mediaTypes), n)
	}
	for _, img := range []*imagev1.Image{
		image(digest(1007), 8, imageutil.MediaTypeSchema2Manifest, `{"Id":"`+digest(2007)+`"}`, layerOf(1, 100), layerOf(2, 200), layerOf(3007, 5)),
		odd, upper,
	} {
		got, ok := x.Get(img.Name)
		if diff := cmp.Diff(View(img), got, cmpopts.EquateEmpty()); !ok || diff != "" {
			t.Errorf("%s read back (-want +got)\n%s", img.Name, diff)
		}
	}
	if x.Len() != n+2 || x.Bytes() <= 0 {
		t.Errorf("len %d bytes %d", x.Len(), x.Bytes())
	}
	perImage := x.Bytes() / int64(x.Len())
	if perImage > 512 {
		t.Errorf("%d bytes per 3-layer image: the compact form is not working", perImage)
	}
	// Updating an image to the same content leaves the size unchanged.
	before := x.Bytes()
	if err := f.Update(image(digest(1000), 100, imageutil.MediaTypeSchema2Manifest, `{"Id":"`+digest(2000)+`"}`,
		layerOf(1, 100), layerOf(2, 200), layerOf(3000, 5))); err != nil {
		t.Fatal(err)
	}
	if x.Bytes() != before {
		t.Errorf("same-content update changed bytes %d -> %d", before, x.Bytes())
	}
	for i := 0; i < n; i++ {
		if err := f.Delete(image(digest(1000+i), 200+i, "", "")); err != nil {
			t.Fatal(err)
		}
	}
	for _, img := range []*imagev1.Image{odd, upper} {
		if err := f.Delete(img); err != nil {
			t.Fatal(err)
		}
	}
	if x.Len() != 0 || x.Bytes() != 0 {
		t.Errorf("after deleting everything: len %d, bytes %d", x.Len(), x.Bytes())
	}
}

func TestReplace(t *testing.T) {
	x := New()
	f := feed{x}
	if x.Synced() {
		t.Fatal("synced before any list")
	}
	if err := f.Update(image(digest(1), 5, "", "", layerOf(10, 1))); err != nil {
		t.Fatal(err)
	}
	if x.Synced() {
		t.Fatal("synced by an event")
	}
	list := []imagev1.Image{
		*image(digest(2), 7, "", "", layerOf(10, 1), layerOf(11, 1)),
		*image(digest(3), 8, "", "", layerOf(10, 1)),
	}
	r := x.beginReplace()
	if err := r.Add(objects(list[:1])); err != nil {
		t.Fatal(err)
	}
	if x.Len() != 1 || x.Synced() {
		t.Fatalf("a relist's first page showed before the relist ended: %d images, synced %v", x.Len(), x.Synced())
	}
	if err := r.Add(objects(list[1:])); err != nil {
		t.Fatal(err)
	}
	r.Finish("9")
	if !x.Synced() || x.Len() != 2 {
		t.Fatalf("synced %v, %d images", x.Synced(), x.Len())
	}
	if _, ok := x.Get(digest(1)); ok {
		t.Error("an image absent from the relist survived it")
	}
	fresh := New()
	for i := range list {
		_ = feed{fresh}.Update(&list[i])
	}
	if fresh.Bytes() != x.Bytes() {
		t.Errorf("replace left %d bytes, building the same content gives %d", x.Bytes(), fresh.Bytes())
	}
	// An aborted relist leaves the content as it was.
	r = x.beginReplace()
	if err := r.Add(objects([]imagev1.Image{*image(digest(4), 9, "", "", layerOf(12, 1))})); err != nil {
		t.Fatal(err)
	}
	r.Abort()
	if _, ok := x.Get(digest(4)); ok || fresh.Bytes() != x.Bytes() {
		t.Errorf("an aborted relist left traces: %d bytes (want %d)", x.Bytes(), fresh.Bytes())
	}
}

// TestLearn: an image read from etcd is added only while the feed has not passed its revision.
func TestLearn(t *testing.T) {
	cases := []struct {
		name    string
		feedRV  string
		imageRV int
		want    bool
	}{
		{"image newer than the feed: added", "10", 11, true},
		{"image the feed has passed (maybe deleted since): ignored", "10", 10, false},
		{"older image: ignored", "10", 3, false},
		{"image without revision: ignored", "10", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := New()
			x.beginReplace().Finish(tc.feedRV)
			img := image(digest(1), tc.imageRV, "", "")
			if tc.imageRV == 0 {
				img.ResourceVersion = ""
			}
			x.Learn(img)
			if _, ok := x.Get(digest(1)); ok != tc.want {
				t.Errorf("indexed %v, want %v", ok, tc.want)
			}
		})
	}
}

func TestPublish(t *testing.T) {
	x := New()
	var images int
	var bytes int64
	x.publish = func(i int, b int64) { images, bytes = i, b }
	_ = feed{x}.Update(image(digest(1), 1, "", "", layerOf(2, 3)))
	if images != 1 || bytes != x.Bytes() || bytes == 0 {
		t.Errorf("published %d images, %d bytes; index has %d bytes", images, bytes, x.Bytes())
	}
}

// TestByteBound: images beyond the bound are left out (answers read them from etcd), on
// events, Learn and relists alike; Disable leaves the index empty but synced.
func TestByteBound(t *testing.T) {
	imageOf := func(i int) *imagev1.Image {
		return image(digest(100+i), i+1, imageutil.MediaTypeSchema2Manifest, "", layerOf(1, 1), layerOf(2, 2))
	}
	probe := New()
	_ = feed{probe}.Update(imageOf(0))
	perImage := probe.Bytes()

	x := New()
	x.SetMaxBytes(3*perImage + perImage/2)
	for i := 0; i < 5; i++ {
		if err := (feed{x}).Update(imageOf(i)); err != nil {
			t.Fatal(err)
		}
	}
	if x.Len() != 3 || x.Bytes() != 3*perImage {
		t.Errorf("bounded to 3.5 images: %d images, %d bytes (%d each)", x.Len(), x.Bytes(), perImage)
	}
	if _, ok := x.Get(digest(104)); ok {
		t.Error("an image beyond the bound was indexed")
	}
	learned := imageOf(9)
	learned.ResourceVersion = "100"
	x.Learn(learned)
	if x.Len() != 3 {
		t.Errorf("Learn went past the bound: %d images", x.Len())
	}
	// A relist is bounded on its own, not by the content it replaces.
	r := x.beginReplace()
	list := []imagev1.Image{*imageOf(20), *imageOf(21), *imageOf(22), *imageOf(23)}
	if err := r.Add(objects(list)); err != nil {
		t.Fatal(err)
	}
	r.Finish("200")
	if x.Len() != 3 || x.Bytes() != 3*perImage {
		t.Errorf("after a bounded relist: %d images, %d bytes", x.Len(), x.Bytes())
	}

	off := New()
	off.Disable()
	_ = feed{off}.Update(imageOf(0))
	if !off.Synced() {
		t.Error("a disabled index is not synced: layers would answer 504 forever")
	}
	// The feed is not run for a disabled index; Learn adds nothing either.
	off.Learn(learned)
	if _, ok := off.Get(learned.Name); ok {
		t.Error("a disabled index learned an image")
	}
}

// objects is a list page as the list-watch loop hands it over.
func objects(images []imagev1.Image) []runtime.Object {
	out := make([]runtime.Object, len(images))
	for i := range images {
		out[i] = &images[i]
	}
	return out
}

// TestLearnedAheadOfTheWatch: the writer's images (Learn) and the watch's events arrive in
// either order; the index keeps the newest revision of each image, never goes back, and tells
// the watch which changes it holds already (Known). Names are sha256 (packed) or sha512 (odd).
func TestLearnedAheadOfTheWatch(t *testing.T) {
	type step struct {
		learn bool // else a watch event
		event watch.EventType
		rv    int
	}
	learn := func(rv int) step { return step{learn: true, rv: rv} }
	event := func(t watch.EventType, rv int) step { return step{event: t, rv: rv} }
	for _, name := range []string{digest(1), "sha512:" + strings.Repeat("ab", 64)} {
		for _, tc := range []struct {
			name   string
			steps  []step
			wantRV uint64 // 0: not indexed
			known  map[int64]bool
		}{
			{"learned, then its event: known, nothing changes", []step{learn(12), event(watch.Added, 12)}, 12, map[int64]bool{11: true, 12: true, 13: false}},
			{"event first: the learn is the watch's already", []step{event(watch.Added, 12), learn(12)}, 12, nil},
			{"a later event (a signature added) replaces it", []step{learn(12), event(watch.Modified, 14)}, 14, nil},
			{"an older event does not replace it", []step{learn(14), event(watch.Modified, 12)}, 14, nil},
			{"a deletion removes it, and a late learn does not bring it back", []step{learn(12), event(watch.Deleted, 16), learn(13)}, 0, map[int64]bool{12: false}},
			{"a deletion older than the learn (created again) keeps it", []step{learn(20), event(watch.Deleted, 18)}, 20, nil},
		} {
			t.Run(name[:7]+" "+tc.name, func(t *testing.T) {
				x := New()
				x.beginReplace().Finish("10")
				f := feed{x}
				for _, s := range tc.steps {
					img := image(name, s.rv, "", "")
					if s.learn {
						x.Learn(img)
					} else if err := f.Apply(s.event, img); err != nil {
						t.Fatal(err)
					}
				}
				x.mu.RLock()
				held := x.holdsLocked(name, 1)
				var rv uint64
				if key, ok := parseSum(name); ok {
					rv = x.images[key].rv
				} else {
					rv = x.odd[name].rv
				}
				x.mu.RUnlock()
				if !held {
					rv = 0
				}
				if rv != tc.wantRV {
					t.Errorf("holds %s at %d, want %d", name, rv, tc.wantRV)
				}
				for rev, want := range tc.known {
					if got := x.Known(name, rev); got != want {
						t.Errorf("Known(%d) = %v, want %v", rev, got, want)
					}
				}
			})
		}
	}
}
