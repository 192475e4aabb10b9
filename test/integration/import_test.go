package integration

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

// sourceRegistry is a real OCI registry (go-containerregistry's) on loopback, plain HTTP: its
// images are imported with importPolicy.insecure.
type sourceRegistry struct {
	t    *testing.T
	host string
}

func startSourceRegistry(t *testing.T) *sourceRegistry {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return &sourceRegistry{t: t, host: strings.TrimPrefix(srv.URL, "http://")}
}

func (r *sourceRegistry) ref(repoTag string) name.Reference {
	ref, err := name.ParseReference(r.host+"/"+repoTag, name.Insecure)
	if err != nil {
		r.t.Fatal(err)
	}
	return ref
}

// push pushes a random image under repoTag and returns its digest.
func (r *sourceRegistry) push(repoTag string) string {
	img, err := random.Image(256, 2)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := remote.Write(r.ref(repoTag), img); err != nil {
		r.t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

// pushList pushes a Docker manifest list of one random image per "os/arch".
func (r *sourceRegistry) pushList(repoTag string, platforms ...string) (list string, children []string) {
	var idx v1.ImageIndex = empty.Index
	for _, p := range platforms {
		img, err := random.Image(128, 1)
		if err != nil {
			r.t.Fatal(err)
		}
		d, _ := img.Digest()
		children = append(children, d.String())
		os, arch, _ := strings.Cut(p, "/")
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: os, Architecture: arch}}})
	}
	idx = mutate.IndexMediaType(idx, types.DockerManifestList)
	if err := remote.WriteIndex(r.ref(repoTag), idx); err != nil {
		r.t.Fatal(err)
	}
	d, _ := idx.Digest()
	return d.String(), children
}

func importOf(stream string, doImport bool, mode imagev1.ImportModeType, pullSpecs ...string) *imagev1.ImageStreamImport {
	isi := &imagev1.ImageStreamImport{ObjectMeta: metav1.ObjectMeta{Name: stream}, Spec: imagev1.ImageStreamImportSpec{Import: doImport}}
	for _, spec := range pullSpecs {
		isi.Spec.Images = append(isi.Spec.Images, imagev1.ImageImportSpec{
			From:         corev1.ObjectReference{Kind: "DockerImage", Name: spec},
			ImportPolicy: imagev1.TagImportPolicy{Insecure: true, ImportMode: mode},
		})
	}
	return isi
}

// TestImageStreamImport: preview and import from a real registry, per-image failures in the
// status of a 201, nothing written when nothing changed, manifest lists kept whole with
// PreserveOriginal, and concurrent imports into one stream all recorded (D15).
func TestImageStreamImport(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	src := startSourceRegistry(t)
	forEachContentType(t, func(t *testing.T, ct string) {
		ns := "import-" + shortName(ct)
		ctx := testContext(t)
		c := s.ImageClient(ct)
		imports := c.ImageV1().ImageStreamImports(ns)
		digest := src.push(ns + "/app:1.0")
		pullSpec := src.host + "/" + ns + "/app:1.0"

		// Preview: the image is described, nothing is written.
		preview, err := imports.Create(ctx, importOf("app", false, "", pullSpec), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st := preview.Status.Images[0]; st.Status.Status != metav1.StatusSuccess || st.Image == nil || st.Image.Name != digest || st.Tag != "1.0" {
			t.Fatalf("preview status %+v", st)
		}
		if preview.Status.Import != nil {
			t.Error("a preview returned a stream")
		}
		if _, err := c.ImageV1().ImageStreams(ns).Get(ctx, "app", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("a preview created the stream: %v", err)
		}

		// kubectl creates an import from a manifest, with its default client-side validation.
		out, err := kubectl(t, s, fmt.Sprintf(`apiVersion: image.openshift.io/v1
kind: ImageStreamImport
metadata: {name: app, namespace: %s}
spec:
  images:
  - from: {kind: DockerImage, name: %s}
    importPolicy: {insecure: true}
`, ns, pullSpec), "create", "-f", "-", "-o", "jsonpath={.status.images[0].status.status}")
		if err != nil || out != "Success" {
			t.Errorf("kubectl create -f of a preview import: %v\n%s", err, out)
		}

		// Import: the stream is created with the tag, its event and the Image.
		imported, err := imports.Create(ctx, importOf("app", true, "", pullSpec), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		stream := imported.Status.Import
		if stream == nil {
			t.Fatal("no status.import")
		}
		spec, head := imageutil.SpecTag(stream, "1.0"), imageutil.LatestTagEvent(stream, "1.0")
		if spec == nil || spec.From.Name != pullSpec || head == nil || head.Image != digest || head.DockerImageReference != src.host+"/"+ns+"/app@"+digest ||
			spec.Generation == nil || *spec.Generation != head.Generation || stream.Annotations["openshift.io/image.dockerRepositoryCheck"] == "" {
			t.Errorf("imported stream: spec %+v head %+v annotations %v", spec, head, stream.Annotations)
		}
		img, err := c.ImageV1().Images().Get(ctx, digest, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if img.DockerImageManifest != "" || len(img.DockerImageLayers) != 2 || len(img.DockerImageMetadata.Raw) == 0 {
			t.Errorf("imported image: %d layers, manifest %d bytes, metadata %s", len(img.DockerImageLayers), len(img.DockerImageManifest), img.DockerImageMetadata.Raw)
		}

		// The same import again changes nothing, so nothing is written.
		again, err := imports.Create(ctx, importOf("app", true, "", pullSpec), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if again.Status.Import.ResourceVersion != stream.ResourceVersion {
			t.Errorf("an unchanged import wrote the stream: %s -> %s", stream.ResourceVersion, again.Status.Import.ResourceVersion)
		}

		// A missing tag is that entry's 404, in a 201; the tag gets an ImportSuccess=False
		// condition.
		missing, err := imports.Create(ctx, importOf("app", true, "", src.host+"/"+ns+"/app:nope"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st := missing.Status.Images[0].Status; st.Code != 404 || st.Details == nil || st.Details.Kind != "dockerimage" {
			t.Errorf("missing tag status %+v", st)
		}
		if st := imageutil.StatusTag(missing.Status.Import, "nope"); st == nil || len(st.Conditions) != 1 || st.Conditions[0].Type != imagev1.ImportSuccess || st.Conditions[0].Status != corev1.ConditionFalse {
			t.Errorf("missing tag conditions %+v", st)
		}

		// PreserveOriginal: the list and every child are stored; the tag points to the list.
		list, children := src.pushList(ns+"/multi:2.0", "linux/amd64", "linux/arm64")
		multi, err := imports.Create(ctx, importOf("multi", true, imagev1.ImportModePreserveOriginal, src.host+"/"+ns+"/multi:2.0"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if head := imageutil.LatestTagEvent(multi.Status.Import, "2.0"); head == nil || head.Image != list || len(multi.Status.Images[0].Manifests) != 2 {
			t.Errorf("PreserveOriginal: head %+v, %d children", head, len(multi.Status.Images[0].Manifests))
		}
		for _, child := range append(children, list) {
			if _, err := c.ImageV1().Images().Get(ctx, child, metav1.GetOptions{}); err != nil {
				t.Errorf("image %s of the list: %v", child, err)
			}
		}

		// Concurrent imports of different tags into one stream all land.
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			tag := fmt.Sprintf("c%d", i)
			src.push(ns + "/busy:" + tag)
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = imports.Create(ctx, importOf("busy", true, "", src.host+"/"+ns+"/busy:"+tag), metav1.CreateOptions{})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("concurrent import %d: %v", i, err)
			}
		}
		busy, err := c.ImageV1().ImageStreams(ns).Get(ctx, "busy", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(busy.Spec.Tags) != n || len(busy.Status.Tags) != n {
			t.Errorf("concurrent imports: %d spec and %d status tags, want %d", len(busy.Spec.Tags), len(busy.Status.Tags), n)
		}

		// Bad input is a 422 before anything is fetched.
		bad := importOf("app", true, "", pullSpec)
		bad.Spec.Images[0].From.Kind = "ImageStreamTag"
		_, err = imports.Create(ctx, bad, metav1.CreateOptions{})
		if se := statusError(t, err); se.ErrStatus.Code != 422 || fmt.Sprint(causeFields(se)) != "[spec.images[0].from.kind]" {
			t.Errorf("bad kind: %v", err)
		}
	})
}

// TestAutomaticImports: D17. A stream created with a spec tag from a registry gets its status
// filled without anyone posting an import, and a scheduled tag follows the registry when the
// tag moves there.
func TestAutomaticImports(t *testing.T) {
	s := framework.StartServer(t, framework.Options{ExtraArgs: []string{"--scheduled-image-import-interval=1s"}})
	src := startSourceRegistry(t)
	ctx := testContext(t)
	c := s.ImageClient(framework.ContentTypes[1])
	const ns = "auto"
	first := src.push(ns + "/app:stable")
	stream := newStream("app")
	stream.Spec.Tags = []imagev1.TagReference{{
		Name: "stable", From: &corev1.ObjectReference{Kind: "DockerImage", Name: src.host + "/" + ns + "/app:stable"},
		ImportPolicy: imagev1.TagImportPolicy{Insecure: true, Scheduled: true},
	}}
	if _, err := c.ImageV1().ImageStreams(ns).Create(ctx, stream, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	head := func() string {
		is, err := c.ImageV1().ImageStreams(ns).Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if e := imageutil.LatestTagEvent(is, "stable"); e != nil {
			return e.Image
		}
		return ""
	}
	eventually(t, "the new spec tag is imported", func() bool { return head() == first })
	if _, err := c.ImageV1().Images().Get(ctx, first, metav1.GetOptions{}); err != nil {
		t.Errorf("the imported image: %v", err)
	}
	second := src.push(ns + "/app:stable")
	eventually(t, "the scheduled tag follows the registry", func() bool { return head() == second })

	testRepositoryImport(t, c, src)
}

// testRepositoryImport: a stream created with spec.dockerImageRepository gets every tag of
// that repository imported (as OpenShift's controller does, in one import with the stream's
// importable spec tags, and insecure by the stream's annotation), is marked as imported into,
// and is imported again only once that mark is removed.
func testRepositoryImport(t *testing.T, c imageclient.Interface, src *sourceRegistry) {
	ctx := testContext(t)
	const ns = "auto-repo"
	streams := c.ImageV1().ImageStreams(ns)
	pushed := map[string]string{}
	for _, tag := range []string{"latest", "1.0", "2.0"} {
		pushed[tag] = src.push(ns + "/app:" + tag)
	}
	pushed["extra"] = src.push(ns + "/other:extra")
	repo := src.host + "/" + ns + "/app"
	stream := newStream("app")
	stream.Annotations = map[string]string{imagev1.InsecureRepositoryAnnotation: "true"}
	stream.Spec.DockerImageRepository = repo
	stream.Spec.Tags = []imagev1.TagReference{{
		Name: "extra", From: &corev1.ObjectReference{Kind: "DockerImage", Name: src.host + "/" + ns + "/other:extra"},
		ImportPolicy: imagev1.TagImportPolicy{Insecure: true},
	}}
	if _, err := streams.Create(ctx, stream, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	get := func() *imagev1.ImageStream {
		is, err := streams.Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return is
	}
	heads := func(is *imagev1.ImageStream) map[string]string {
		out := map[string]string{}
		for _, st := range is.Status.Tags {
			if len(st.Items) > 0 {
				out[st.Tag] = st.Items[0].Image
			}
		}
		return out
	}
	var last *imagev1.ImageStream
	defer func() {
		if t.Failed() && last != nil {
			t.Logf("the stream: annotations %v\nspec %+v\nstatus %+v", last.Annotations, last.Spec, last.Status)
		}
	}()
	eventually(t, "every tag of the repository is imported", func() bool { last = get(); return len(heads(last)) == len(pushed) })
	imported := get()
	if got := heads(imported); fmt.Sprint(got) != fmt.Sprint(pushed) {
		t.Errorf("heads %v, want %v", got, pushed)
	}
	if imported.Annotations[imagev1.DockerImageRepositoryCheckAnnotation] == "" {
		t.Errorf("the stream is not marked as imported into: %v", imported.Annotations)
	}
	for tag := range pushed {
		spec := imageutil.SpecTag(imported, tag)
		wantFrom := repo + ":" + tag
		if tag == "extra" {
			wantFrom = src.host + "/" + ns + "/other:extra"
		}
		if spec == nil || spec.From == nil || spec.From.Name != wantFrom || spec.Generation == nil ||
			*spec.Generation != imageutil.LatestTagEvent(imported, tag).Generation {
			t.Errorf("spec tag %s: %+v, want from %s at its event's generation", tag, spec, wantFrom)
		}
	}
	for _, d := range pushed {
		if _, err := c.ImageV1().Images().Get(ctx, d, metav1.GetOptions{}); err != nil {
			t.Errorf("imported image %s: %v", d, err)
		}
	}

	// A tag pushed later comes in once the mark is removed, as with OpenShift.
	pushed["3.0"] = src.push(ns + "/app:3.0")
	unmark := imported.DeepCopy()
	delete(unmark.Annotations, imagev1.DockerImageRepositoryCheckAnnotation)
	if _, err := streams.Update(ctx, unmark, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the repository is imported again", func() bool { return heads(get())["3.0"] == pushed["3.0"] })
	if again := get(); again.Annotations[imagev1.DockerImageRepositoryCheckAnnotation] == "" || fmt.Sprint(heads(again)) != fmt.Sprint(pushed) {
		t.Errorf("after the second import: heads %v, annotations %v", heads(again), again.Annotations)
	}
}

// eventually polls cond (the server imports asynchronously) with a generous no-hang bound.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(testContext(t), 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return cond(), nil
	}); err != nil {
		t.Fatalf("timed out waiting until %s", what)
	}
}
