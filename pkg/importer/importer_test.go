package importer

import (
	"context"
	"net/http"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
)

func TestImportByTagAndDigest(t *testing.T) {
	reg := startRegistry(t, true, nil)
	img := reg.pushImage("ns/app:v1")
	dgst := digestOf(t, img)
	raw, _ := img.RawManifest()
	config, _ := img.RawConfigFile()
	manifest, _ := img.Manifest()

	isi := images(imagev1.TagImportPolicy{},
		reg.host+"/ns/app:v1",
		reg.host+"/ns/app@"+dgst,
		reg.host+"/ns/app:v1", // the same fetch again
		reg.host+"/ns/app:missing",
		reg.host+"/ns/nothere:v1",
	)
	imp := New(fastOptions(t))
	before := reg.limitedRequests()
	status := imp.Import(context.Background(), isi, nil, nil)

	if len(status.Images) != len(isi.Spec.Images) {
		t.Fatalf("got %d statuses for %d images", len(status.Images), len(isi.Spec.Images))
	}
	for i, wantTag := range []string{"v1", "", "v1"} {
		st := status.Images[i]
		if st.Status.Status != metav1.StatusSuccess {
			t.Fatalf("images[%d]: %+v", i, st.Status)
		}
		if st.Tag != wantTag {
			t.Errorf("images[%d].tag = %q, want %q", i, st.Tag, wantTag)
		}
		im := st.Image
		if im.Name != dgst || im.DockerImageReference != reg.host+"/ns/app@"+dgst {
			t.Errorf("images[%d]: name %q reference %q", i, im.Name, im.DockerImageReference)
		}
		if im.DockerImageManifest != string(raw) || im.DockerImageConfig != string(config) {
			t.Errorf("images[%d]: manifest or config differ from the pushed ones", i)
		}
		if im.DockerImageManifestMediaType != imageutil.MediaTypeSchema2Manifest {
			t.Errorf("images[%d]: media type %q", i, im.DockerImageManifestMediaType)
		}
		if len(im.DockerImageLayers) != len(manifest.Layers) || im.DockerImageLayers[0].Name != manifest.Layers[0].Digest.String() {
			t.Errorf("images[%d]: layers %+v", i, im.DockerImageLayers)
		}
		meta, err := imageutil.DockerImageMetadata(im)
		if err != nil || meta.ID != manifest.Config.Digest.String() || meta.Size == 0 {
			t.Errorf("images[%d]: metadata %+v, %v", i, meta, err)
		}
	}
	// The first and third entry shared one fetch: 2 distinct manifests + 2 misses.
	if got := reg.limitedRequests() - before; got != 4 {
		t.Errorf("%d manifest requests, want 4", got)
	}
	for i, ref := range []string{reg.host + "/ns/app:missing", reg.host + "/ns/nothere:v1"} {
		st := status.Images[3+i]
		want := `dockerimage.image.openshift.io "` + ref + `" not found`
		if st.Status.Code != http.StatusNotFound || st.Status.Reason != metav1.StatusReasonNotFound || st.Status.Message != want ||
			st.Status.Details == nil || st.Status.Details.Kind != "dockerimage" || st.Status.Details.Name != ref {
			t.Errorf("images[%d].status = %+v (details %+v), want 404 %q", 3+i, st.Status, st.Status.Details, want)
		}
		if st.Image != nil {
			t.Errorf("images[%d] has an image", 3+i)
		}
	}
}

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// A pull spec is reported as typed: no registry or "library/" is added to Docker Hub names.
func TestImageReferenceAsTyped(t *testing.T) {
	for _, tc := range []struct{ spec, want, pullSpec string }{
		{"redis", "redis@" + testDigest, "docker.io/library/redis:latest"},
		{"redis:7", "redis@" + testDigest, "docker.io/library/redis:7"},
		{"docker.io/redis:7", "docker.io/redis@" + testDigest, "docker.io/library/redis:7"},
		{"quay.io/ns/app:1", "quay.io/ns/app@" + testDigest, "quay.io/ns/app:1"},
		{"localhost:5000/a/b/c:1", "localhost:5000/a/b/c@" + testDigest, "localhost:5000/a/b/c:1"},
	} {
		src, err := parseSource(tc.spec, false)
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		if got := src.imageReference(testDigest); got != tc.want {
			t.Errorf("%s: reference %q, want %q", tc.spec, got, tc.want)
		}
		if got := src.pullSpec(src.typed.Tag, ""); got != tc.pullSpec {
			t.Errorf("%s: pull spec %q, want %q", tc.spec, got, tc.pullSpec)
		}
	}
}

func TestManifestLists(t *testing.T) {
	reg := startRegistry(t, true, nil)
	oci := reg.pushIndex("ns/multi:oci", "application/vnd.oci.image.index.v1+json", "linux/ppc64le", "linux/amd64", "linux/arm64", "windows/amd64")
	docker := reg.pushIndex("ns/multi:docker", "application/vnd.docker.distribution.manifest.list.v2+json", "linux/s390x", "linux/amd64", "linux/arm64")
	noAmd := reg.pushIndex("ns/multi:noamd", "application/vnd.oci.image.index.v1+json", "linux/s390x", "linux/arm64")
	child := func(idx v1.ImageIndex, n int) string {
		m, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		return m.Manifests[n].Digest.String()
	}

	withPrefs := func(arch, os string) *imagev1.ImageStream {
		return &imagev1.ImageStream{Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{
			Name:        "target",
			Annotations: map[string]string{imagev1.ImporterPreferArchAnnotation: arch, imagev1.ImporterPreferOSAnnotation: os},
		}}}}
	}
	for _, tc := range []struct {
		name     string
		tag      string
		platform string // the server's os/arch
		stream   *imagev1.ImageStream
		want     string
	}{
		{"server platform", "oci", "linux/arm64", nil, child(oci, 2)},
		{"server platform, docker list", "docker", "linux/arm64", nil, child(docker, 2)},
		{"annotations first", "oci", "linux/arm64", withPrefs("ppc64le", "linux"), child(oci, 0)},
		{"annotation for the arch only", "oci", "windows/arm64", withPrefs("amd64", ""), child(oci, 3)},
		{"then linux/amd64", "docker", "darwin/arm64", nil, child(docker, 1)},
		{"then the first", "noamd", "darwin/arm64", nil, child(noAmd, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := fastOptions(t)
			opts.OS, opts.Architecture, _ = strings.Cut(tc.platform, "/")
			isi := images(imagev1.TagImportPolicy{}, reg.host+"/ns/multi:"+tc.tag)
			isi.Spec.Images[0].To = &corev1LocalRef{Name: "target"}
			st := New(opts).Import(context.Background(), isi, tc.stream, nil).Images[0]
			if st.Status.Status != metav1.StatusSuccess {
				t.Fatalf("%+v", st.Status)
			}
			if st.Image.Name != tc.want || st.Image.DockerImageReference != reg.host+"/ns/multi@"+tc.want || st.Tag != tc.tag {
				t.Errorf("imported %s (%s, tag %q), want %s", st.Image.Name, st.Image.DockerImageReference, st.Tag, tc.want)
			}
			if len(st.Manifests) != 0 || len(st.Image.DockerImageManifests) != 0 || st.Image.DockerImageManifest == "" {
				t.Errorf("a Legacy import keeps one image manifest: %+v", st.Image)
			}
		})
	}

	t.Run("PreserveOriginal", func(t *testing.T) {
		for _, idx := range []v1.ImageIndex{oci, docker} {
			isi := images(imagev1.TagImportPolicy{ImportMode: imagev1.ImportModePreserveOriginal}, reg.host+"/ns/multi@"+digestOf(t, idx))
			st := New(fastOptions(t)).Import(context.Background(), isi, nil, nil).Images[0]
			if st.Status.Status != metav1.StatusSuccess {
				t.Fatalf("%+v", st.Status)
			}
			im, _ := idx.IndexManifest()
			mt, _ := idx.MediaType()
			list := st.Image
			if list.Name != digestOf(t, idx) || list.DockerImageManifest != "" || list.DockerImageManifestMediaType != string(mt) ||
				list.DockerImageReference != reg.host+"/ns/multi@"+list.Name {
				t.Errorf("list image: %+v", list)
			}
			if len(list.DockerImageManifests) != len(im.Manifests) || len(st.Manifests) != len(im.Manifests) {
				t.Fatalf("%d manifests and %d children for %d entries", len(list.DockerImageManifests), len(st.Manifests), len(im.Manifests))
			}
			for i, m := range im.Manifests {
				d := list.DockerImageManifests[i]
				if d.Digest != m.Digest.String() || d.OS != m.Platform.OS || d.Architecture != m.Platform.Architecture || d.ManifestSize != m.Size {
					t.Errorf("dockerImageManifests[%d] = %+v, want %+v", i, d, m)
				}
				c := st.Manifests[i]
				if c.Name != m.Digest.String() || c.DockerImageReference != reg.host+"/ns/multi@"+c.Name || len(c.DockerImageLayers) == 0 {
					t.Errorf("manifests[%d] = %s %s with %d layers", i, c.Name, c.DockerImageReference, len(c.DockerImageLayers))
				}
			}
			meta, err := imageutil.DockerImageMetadata(list)
			if err != nil || meta.ID != list.Name || meta.Created.IsZero() {
				t.Errorf("list metadata %+v, %v", meta, err)
			}
		}
	})

	t.Run("default mode", func(t *testing.T) {
		opts := fastOptions(t)
		opts.DefaultImportMode = imagev1.ImportModePreserveOriginal
		st := New(opts).Import(context.Background(), images(imagev1.TagImportPolicy{}, reg.host+"/ns/multi:docker"), nil, nil).Images[0]
		if st.Image == nil || st.Image.Name != digestOf(t, docker) || len(st.Manifests) != 3 {
			t.Errorf("the server's default mode was not used: %+v", st)
		}
	})
}

func TestRepositoryImport(t *testing.T) {
	reg := startRegistry(t, true, nil)
	img := reg.pushImage("ns/many:latest")
	var want []string
	want = append(want, "latest", "v2.10", "2.9", "1.0", "1.0-rc1", "v3.1.4", "3.1.3", "1.0.0")
	for _, tag := range want[1:] {
		reg.tag("ns/many:"+tag, img)
	}
	var others []string
	for i := range 50 {
		tag := "build-" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		others = append(others, tag)
		reg.tag("ns/many:"+tag, img)
	}
	want = append(want, others...)
	other := reg.pushImage("ns/many:zz-spec")

	isi := images(imagev1.TagImportPolicy{}, reg.host+"/ns/many:zz-spec")
	isi.Spec.Repository = &imagev1.RepositoryImportSpec{From: corev1Ref(reg.host + "/ns/many")}
	status := New(fastOptions(t)).Import(context.Background(), isi, nil, nil)

	repo := status.Repository
	if repo == nil || repo.Status.Status != metav1.StatusSuccess {
		t.Fatalf("repository status %+v", repo)
	}
	// The first 50 by priority, plus zz-spec, which is beyond the limit but imported anyway.
	if len(repo.Images) != 51 {
		t.Fatalf("%d images imported", len(repo.Images))
	}
	for i, st := range repo.Images[:50] {
		if st.Tag != want[i] || st.Image == nil || st.Image.Name != digestOf(t, img) ||
			st.Image.DockerImageReference != reg.host+"/ns/many@"+st.Image.Name {
			t.Fatalf("images[%d]: tag %q, want %q (%+v)", i, st.Tag, want[i], st.Status)
		}
	}
	if last := repo.Images[50]; last.Tag != "zz-spec" || last.Image.Name != digestOf(t, other) {
		t.Errorf("images[50] = %q", last.Tag)
	}
	if strings.Join(repo.AdditionalTags, ",") != strings.Join(want[50:], ",") {
		t.Errorf("additionalTags = %v, want %v", repo.AdditionalTags, want[50:])
	}

	t.Run("unlimited", func(t *testing.T) {
		opts := fastOptions(t)
		opts.MaxTagsPerRepository = -1
		isi := &imagev1.ImageStreamImport{Spec: imagev1.ImageStreamImportSpec{Repository: &imagev1.RepositoryImportSpec{From: corev1Ref(reg.host + "/ns/many")}}}
		repo := New(opts).Import(context.Background(), isi, nil, nil).Repository
		if len(repo.Images) != len(want)+1 || len(repo.AdditionalTags) != 0 {
			t.Errorf("%d imported, %d additional", len(repo.Images), len(repo.AdditionalTags))
		}
	})
	t.Run("missing repository", func(t *testing.T) {
		isi := &imagev1.ImageStreamImport{Spec: imagev1.ImageStreamImportSpec{Repository: &imagev1.RepositoryImportSpec{From: corev1Ref(reg.host + "/ns/none")}}}
		repo := New(fastOptions(t)).Import(context.Background(), isi, nil, nil).Repository
		if repo.Status.Code != http.StatusNotFound || len(repo.Images) != 0 || repo.Status.Details.Kind != "dockerimage" {
			t.Errorf("%+v", repo.Status)
		}
	})
}

// A repository whose tags partly fail reports ImportFailed with OpenShift's messages.
func TestRepositoryPartialFailure(t *testing.T) {
	var gone []string
	reg := startRegistry(t, true, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for _, g := range gone {
				if strings.HasSuffix(r.URL.Path, "/manifests/"+g) {
					http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"gone"}]}`, http.StatusNotFound)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	img := reg.pushImage("ns/r:a")
	reg.tag("ns/r:b", img)
	reg.tag("ns/r:c", img)
	isi := &imagev1.ImageStreamImport{Spec: imagev1.ImageStreamImportSpec{Repository: &imagev1.RepositoryImportSpec{From: corev1Ref(reg.host + "/ns/r")}}}
	for _, tc := range []struct {
		gone []string
		want string
	}{
		{[]string{"b"}, "one of the images from this repository failed to import"},
		{[]string{"a", "c"}, "2 of the images from this repository failed to import"},
	} {
		gone = tc.gone
		repo := New(fastOptions(t)).Import(context.Background(), isi, nil, nil).Repository
		if repo.Status.Status != metav1.StatusFailure || repo.Status.Reason != "ImportFailed" || repo.Status.Message != tc.want || len(repo.Images) != 3 {
			t.Errorf("gone %v: %+v", tc.gone, repo.Status)
		}
	}
}

func TestPrioritizeTags(t *testing.T) {
	got := prioritizeTags([]string{"other", "v1.0", "1.1", "", "5.1.3-other", "v5.1.3", "5.1-rc1", "5.2", "alpha", "5.1.3", "latest"})
	want := []string{"latest", "5.2", "5.1-rc1", "1.1", "v1.0", "5.1.3", "v5.1.3", "5.1.3-other", "alpha", "other"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}
