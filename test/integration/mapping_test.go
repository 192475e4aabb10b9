package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

func newMapping(stream, tag string, img *imagev1.Image) *imagev1.ImageStreamMapping {
	return &imagev1.ImageStreamMapping{ObjectMeta: metav1.ObjectMeta{Name: stream}, Tag: tag, Image: *img}
}

// history returns the image names of a tag's history, newest first.
func history(t *testing.T, c imageclient.Interface, ns, stream, tag string) []string {
	t.Helper()
	is, err := c.ImageV1().ImageStreams(ns).Get(context.Background(), stream, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tl := range is.Status.Tags {
		if tl.Tag == tag {
			var names []string
			for _, it := range tl.Items {
				names = append(names, it.Image)
			}
			return names
		}
	}
	return nil
}

// TestDocumentationExample: the OpenShift documentation's
// mapping, created as-is with a real kubectl and its default client-side validation
// (D1, D12, D13).
func TestDocumentationExample(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	ctx := testContext(t)
	c := s.ImageClient(framework.ContentTypes[0])
	if _, err := c.ImageV1().ImageStreams("test").Create(ctx, newStream("origin-ruby-sample"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out, err := kubectl(t, s, "", "create", "-f", "../../examples/mapping.yaml")
	if err != nil || !strings.Contains(out, "status/<unknown> created") {
		t.Fatalf("kubectl create -f examples/mapping.yaml: %v\n%s", err, out)
	}
	if got := history(t, c, "test", "origin-ruby-sample", "latest"); fmt.Sprint(got) != "["+testDigest+"]" {
		t.Errorf("latest history %v, want [%s]", got, testDigest)
	}
	img, err := c.ImageV1().Images().Get(ctx, testDigest, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	meta := decodeMetadata(t, img)
	if len(img.DockerImageLayers) != 7 || meta.Config == nil || fmt.Sprint(meta.Config.Cmd) != "[/usr/libexec/s2i/run]" ||
		fmt.Sprint(meta.Config.Entrypoint) != "[container-entrypoint]" || len(meta.Config.Env) != 13 ||
		meta.Config.Labels["io.openshift.build.commit.id"] != "00cadc392d39d5ef9117cbc8a31db0889eedd442" {
		t.Errorf("image lost data: %d layers, metadata %s", len(img.DockerImageLayers), img.DockerImageMetadata.Raw)
	}
	out, err = kubectl(t, s, "", "get", "is", "-n", "test")
	if err != nil || !strings.Contains(out, "latest") {
		t.Errorf("kubectl get is: %v\n%s", err, out)
	}
	// The README's tagging example: prod follows latest.
	out, err = kubectl(t, s, "", "create", "-f", "../../examples/imagestreamtag.yaml")
	if err != nil || !strings.Contains(out, "imagestreamtag.image.openshift.io/origin-ruby-sample:prod created") {
		t.Fatalf("kubectl create -f examples/imagestreamtag.yaml: %v\n%s", err, out)
	}
	if got := history(t, c, "test", "origin-ruby-sample", "prod"); fmt.Sprint(got) != "["+testDigest+"]" {
		t.Errorf("prod history %v, want [%s]", got, testDigest)
	}
}

// TestRegistryFlow follows the registry after a push: a mapping to a missing stream
// is a 404 the registry recognises (D9), it creates the stream, and the same mapping succeeds.
func TestRegistryFlow(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	forEachContentType(t, func(t *testing.T, ct string) {
		ctx := testContext(t)
		ns := "push-" + shortName(ct)
		c := s.ImageClient(ct)
		pushed := pushedImage(t, ns)
		pushed.DockerImageReference = "registry.test:5000/" + ns + "/app@" + pushed.Name
		mapping := newMapping("app", "v1", pushed)

		_, err := c.ImageV1().ImageStreamMappings(ns).Create(ctx, mapping, metav1.CreateOptions{})
		se := statusError(t, err)
		d := se.ErrStatus.Details
		if se.ErrStatus.Code != 404 || d == nil || d.Kind != "imagestreammappings" || d.Name != "app" || d.Group != "image.openshift.io" ||
			se.ErrStatus.Message != `imagestreammappings.image.openshift.io "app" not found` {
			t.Fatalf("D9: mapping to a missing stream: %+v", se.ErrStatus)
		}
		if _, err := c.ImageV1().Images().Get(ctx, pushed.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the failed mapping wrote the image: %v", err)
		}
		if _, err := c.ImageV1().ImageStreams(ns).Create(ctx, newStream("app"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		status, err := c.ImageV1().ImageStreamMappings(ns).Create(ctx, mapping, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("mapping after the stream exists: %v", err)
		}
		if status.Status != metav1.StatusSuccess || status.Code != 201 || status.Details == nil || status.Details.Kind != "imagestreammappings" ||
			status.Details.Name != "app" || !strings.Contains(status.Message, pushed.Name) {
			t.Errorf("D12: reply %+v", status)
		}
		img, err := c.ImageV1().Images().Get(ctx, pushed.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if meta := decodeMetadata(t, img); meta.Architecture != "arm64" || len(img.DockerImageLayers) != 2 || img.DockerImageManifest != "" {
			t.Errorf("pushed image not derived: %s, %d layers", img.DockerImageMetadata.Raw, len(img.DockerImageLayers))
		}
		is, err := c.ImageV1().ImageStreams(ns).Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ev := is.Status.Tags[0].Items[0]; ev.Image != pushed.Name || ev.DockerImageReference != pushed.DockerImageReference || ev.Generation != is.Generation {
			t.Errorf("tag event %+v", ev)
		}
		// As OpenShift does, mapping an existing managed image to another tag points the event at
		// the stream's own repository.
		if _, err := c.ImageV1().ImageStreamMappings(ns).Create(ctx, newMapping("app", "v2", pushed), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		is, _ = c.ImageV1().ImageStreams(ns).Get(ctx, "app", metav1.GetOptions{})
		if want := "registry.test:5000/" + ns + "/app@" + pushed.Name; is.Status.Tags[1].Items[0].DockerImageReference != want {
			t.Errorf("managed image re-tag reference %q, want %q", is.Status.Tags[1].Items[0].DockerImageReference, want)
		}
	})
}

// TestMappingValidation: every decision rule and OpenShift's own mapping checks, with codes and field paths,
// and nothing written for any of them.
func TestMappingValidation(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	ctx := testContext(t)
	c := s.ImageClient(framework.ContentTypes[0])
	const ns = "validation"
	if _, err := c.ImageV1().ImageStreams(ns).Create(ctx, newStream("app"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ref := "registry.test:5000/validation/app@" + testDigest
	img := func(mut func(*imagev1.Image)) *imagev1.Image {
		i := &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: testDigest}, DockerImageReference: ref}
		if mut != nil {
			mut(i)
		}
		return i
	}
	tests := []struct {
		name    string
		mapping *imagev1.ImageStreamMapping
		code    int32
		fields  []string
	}{
		{"D1: nameless image and a reference without digest", newMapping("app", "v1", img(func(i *imagev1.Image) {
			i.Name = ""
			i.DockerImageReference = "registry.test:5000/validation/app:v1"
		})), 422, []string{"image.metadata.name"}},
		{"D2: name differs from the reference's digest", newMapping("app", "v1", img(func(i *imagev1.Image) { i.Name = digestOf(7) })), 422, []string{"image.metadata.name"}},
		{"D3: stream name over 63 characters", newMapping(strings.Repeat("a", 64), "v1", img(nil)), 422, []string{"metadata.name"}},
		{"D3: stream name a stream could not have", newMapping("App_", "v1", img(nil)), 422, []string{"metadata.name"}},
		{"D4: tag with a colon", newMapping("app", "v1:x", img(nil)), 422, []string{"tag"}},
		{"D4: tag over 128 characters", newMapping("app", strings.Repeat("t", 129), img(nil)), 422, []string{"tag"}},
		{"empty tag", newMapping("app", "", img(nil)), 422, []string{"tag"}},
		{"D5: image name not a digest", newMapping("app", "v1", img(func(i *imagev1.Image) {
			i.Name = "latest"
			i.DockerImageReference = "registry.test:5000/validation/app:latest"
		})), 422, []string{"image.metadata.name"}},
		{"reference missing and no name to default it from", newMapping("app", "v1", img(func(i *imagev1.Image) {
			i.Name = ""
			i.DockerImageReference = ""
		})), 422, []string{"image.metadata.name", "image.dockerImageReference"}},
		{"reference does not parse", newMapping("app", "v1", img(func(i *imagev1.Image) { i.DockerImageReference = "registry.test:5000/Upper/app@" + testDigest })), 422, []string{"image.dockerImageReference"}},
		{"manifest digest", newMapping("app", "v1", img(func(i *imagev1.Image) {
			i.DockerImageManifests = []imagev1.ImageManifest{{Digest: "nope", MediaType: "application/vnd.oci.image.manifest.v1+json", Architecture: "amd64", OS: "linux"}}
		})), 422, []string{"image.dockerImageManifests[0].digest"}},
		{"unknown metadata version", newMapping("app", "v1", img(func(i *imagev1.Image) {
			i.DockerImageMetadataVersion = "9.9"
			i.DockerImageMetadata.Raw = []byte(`{"Id":"x"}`)
		})), 400, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ImageV1().ImageStreamMappings(ns).Create(ctx, tc.mapping, metav1.CreateOptions{})
			se := statusError(t, err)
			if se.ErrStatus.Code != tc.code {
				t.Fatalf("code %d (%s), want %d", se.ErrStatus.Code, se.ErrStatus.Message, tc.code)
			}
			if tc.fields != nil {
				if fmt.Sprint(causeFields(se)) != fmt.Sprint(tc.fields) {
					t.Errorf("fields %v, want %v (%s)", causeFields(se), tc.fields, se.ErrStatus.Message)
				}
				if se.ErrStatus.Details.Kind != "ImageStreamMapping" {
					t.Errorf("details kind %q", se.ErrStatus.Details.Kind)
				}
			}
		})
	}
	images, err := c.ImageV1().Images().List(ctx, metav1.ListOptions{})
	if err != nil || len(images.Items) != 0 {
		t.Errorf("invalid mappings wrote %d images (%v)", len(images.Items), err)
	}
	if h := history(t, c, ns, "app", "v1"); len(h) != 0 {
		t.Errorf("invalid mappings wrote history %v", h)
	}
	// Without a reference, the internal registry's is used, as OpenShift does.
	if _, err := c.ImageV1().ImageStreamMappings(ns).Create(ctx, newMapping("app", "defaulted", img(func(i *imagev1.Image) { i.DockerImageReference = "" })), metav1.CreateOptions{}); err != nil {
		t.Errorf("defaulted reference: %v", err)
	}
	if is, err := c.ImageV1().ImageStreams(ns).Get(ctx, "app", metav1.GetOptions{}); err != nil || len(is.Status.Tags) != 1 || is.Status.Tags[0].Items[0].DockerImageReference != ref {
		t.Errorf("defaulted reference: %+v (%v), want %s", is, err, ref)
	}
	// D1: a nameless image with a digest reference is named by the digest.
	if _, err := c.ImageV1().ImageStreamMappings(ns).Create(ctx, newMapping("app", "v1", img(func(i *imagev1.Image) { i.Name = "" })), metav1.CreateOptions{}); err != nil {
		t.Errorf("D1: %v", err)
	}
	// The verbs OpenShift does not serve.
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/apis/image.openshift.io/v1/namespaces/validation/imagestreammappings", 405},
		{"GET", "/apis/image.openshift.io/v1/namespaces/validation/imagestreammappings/app", 404},
		{"DELETE", "/apis/image.openshift.io/v1/namespaces/validation/imagestreammappings/app", 404},
		{"PUT", "/apis/image.openshift.io/v1/namespaces/validation/imagestreammappings/app", 404},
	} {
		if code, body, _ := rawRequest(t, s, tc.method, tc.path, "application/json", []byte(`{}`)); code != tc.code {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, code, body, tc.code)
		}
	}
}

// TestMappingIdempotencyAndHistory: the same mapping twice is one entry; A, B, A is three,
// newest first: a new event is compared with the head only, kept as OpenShift does it.
// Dry-run writes nothing (D6).
func TestMappingIdempotencyAndHistory(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	forEachContentType(t, func(t *testing.T, ct string) {
		ctx := testContext(t)
		ns := "history-" + shortName(ct)
		c := s.ImageClient(ct)
		if _, err := c.ImageV1().ImageStreams(ns).Create(ctx, newStream("app"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		base := 100 * len(ct) // images are cluster-scoped: distinct per subtest
		a, b := newImage(digestOf(base+1)), newImage(digestOf(base+2))
		create := func(img *imagev1.Image, opts metav1.CreateOptions) {
			t.Helper()
			if _, err := c.ImageV1().ImageStreamMappings(ns).Create(ctx, newMapping("app", "t", img), opts); err != nil {
				t.Fatal(err)
			}
		}
		create(a, metav1.CreateOptions{})
		before, _ := c.ImageV1().ImageStreams(ns).Get(ctx, "app", metav1.GetOptions{})
		create(a, metav1.CreateOptions{})
		after, _ := c.ImageV1().ImageStreams(ns).Get(ctx, "app", metav1.GetOptions{})
		if h := history(t, c, ns, "app", "t"); len(h) != 1 || after.ResourceVersion != before.ResourceVersion {
			t.Errorf("same mapping twice: history %v, resourceVersion %s -> %s (want no write)", h, before.ResourceVersion, after.ResourceVersion)
		}
		create(b, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if h := history(t, c, ns, "app", "t"); len(h) != 1 {
			t.Errorf("dry-run wrote history %v", h)
		}
		if _, err := c.ImageV1().Images().Get(ctx, b.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("D6: dry-run created the image: %v", err)
		}
		create(b, metav1.CreateOptions{})
		create(a, metav1.CreateOptions{})
		if h := history(t, c, ns, "app", "t"); fmt.Sprint(h) != fmt.Sprint([]string{a.Name, b.Name, a.Name}) {
			t.Errorf("A, B, A history %v", h)
		}
		// A dry run against a missing stream still says 404.
		_, err := c.ImageV1().ImageStreamMappings(ns).Create(ctx, newMapping("missing", "t", a), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if !apierrors.IsNotFound(err) {
			t.Errorf("dry-run to a missing stream: %v", err)
		}
	})
}

// TestMappingContention: 64 concurrent mappings to one stream, distinct tags and then one tag
// with 64 images, all succeed, each image exactly once, newest first (D7); then the same with
// two server processes sharing one etcd. Every subtest pushes images no one pushed before, so
// the two replicas also race to create each image.
func TestMappingContention(t *testing.T) {
	etcd := framework.StartEtcd(t)
	s1 := framework.StartServer(t, framework.Options{EtcdServers: etcd.URL})
	s2 := framework.StartServer(t, framework.Options{EtcdServers: etcd.URL})
	for i, tc := range []struct {
		name    string
		servers []*framework.Server
	}{{"one server", []*framework.Server{s1}}, {"two servers", []*framework.Server{s1, s2}}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			ns := strings.ReplaceAll(tc.name, " ", "-")
			clients := []imageclient.Interface{}
			for i, s := range tc.servers {
				clients = append(clients, s.ImageClient(framework.ContentTypes[i%2]))
			}
			if _, err := clients[0].ImageV1().ImageStreams(ns).Create(ctx, newStream("hot"), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			const n = 64
			pushed := map[string]bool{}
			run := func(base int, tagOf func(i int) string) {
				var wg sync.WaitGroup
				errs := make(chan error, n)
				for i := 0; i < n; i++ {
					pushed[digestOf(base+i)] = true
					wg.Add(1)
					go func(i int) {
						defer wg.Done()
						img := newImage(digestOf(base + i))
						_, err := clients[i%len(clients)].ImageV1().ImageStreamMappings(ns).Create(ctx, newMapping("hot", tagOf(i), img), metav1.CreateOptions{})
						if err != nil {
							errs <- fmt.Errorf("mapping %d: %w", i, err)
						}
					}(i)
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Error(err)
				}
			}
			base := 100000 * (i + 1)
			run(base+1000, func(i int) string { return fmt.Sprintf("t%d", i) })
			is, err := clients[0].ImageV1().ImageStreams(ns).Get(ctx, "hot", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(is.Status.Tags) != n {
				t.Errorf("distinct tags: %d status tags, want %d", len(is.Status.Tags), n)
			}
			for _, tl := range is.Status.Tags {
				if len(tl.Items) != 1 {
					t.Errorf("tag %s has %d entries", tl.Tag, len(tl.Items))
				}
			}

			run(base+2000, func(int) string { return "same" })
			is, err = clients[0].ImageV1().ImageStreams(ns).Get(ctx, "hot", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var items []imagev1.TagEvent
			for _, tl := range is.Status.Tags {
				if tl.Tag == "same" {
					items = tl.Items
				}
			}
			seen := map[string]int{}
			for _, it := range items {
				seen[it.Image]++
			}
			if len(items) != n || len(seen) != n {
				t.Errorf("same tag: %d entries of %d distinct images, want %d of %d", len(items), len(seen), n, n)
			}
			if !sort.SliceIsSorted(items, func(i, j int) bool { return items[i].Created.After(items[j].Created.Time) }) {
				t.Error("history is not newest first")
			}
			images, err := clients[0].ImageV1().Images().List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			stored := 0
			for _, img := range images.Items {
				if pushed[img.Name] {
					stored++
				}
			}
			if stored != 2*n {
				t.Errorf("%d of this subtest's %d images stored, want every one exactly once", stored, 2*n)
			}
		})
	}
}

// TestMappingOneImageIntoManyStreams: one image mapped into 32 streams at once — what
// mirroring, promotion, `oc tag` fan-out and multi-arch pushes do — is 32 × 201, every time
// (D14). The streams' transactions share the image's key, so they must never fail each other.
func TestMappingOneImageIntoManyStreams(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	ctx := testContext(t)
	c := s.ImageClient(framework.ContentTypes[0])
	const ns, streams = "fanout", 32
	for i := 0; i < streams; i++ {
		if _, err := c.ImageV1().ImageStreams(ns).Create(ctx, newStream(fmt.Sprintf("s%d", i)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for round := 0; round < 5; round++ {
		img := newImage(digestOf(40000 + round))
		var wg sync.WaitGroup
		errs := make(chan error, streams)
		for i := 0; i < streams; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if _, err := c.ImageV1().ImageStreamMappings(ns).Create(ctx, newMapping(fmt.Sprintf("s%d", i), "latest", img), metav1.CreateOptions{}); err != nil {
					errs <- fmt.Errorf("round %d, stream s%d: %w", round, i, err)
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for i := 0; i < streams; i++ {
			if h := history(t, c, ns, fmt.Sprintf("s%d", i), "latest"); len(h) != round+1 || h[0] != img.Name {
				t.Fatalf("round %d, stream s%d: history %v", round, i, h)
			}
		}
	}
}

// TestMappingSizeGuard pushes until the stream would pass --max-imagestream-bytes: a 413 that
// names the stream, the limit and the remedy, and nothing written (D8).
func TestMappingSizeGuard(t *testing.T) {
	s := framework.StartServer(t, framework.Options{ExtraArgs: []string{"--max-imagestream-bytes", "4096"}})
	ctx := testContext(t)
	c := s.ImageClient(framework.ContentTypes[1])
	if _, err := c.ImageV1().ImageStreams("size").Create(ctx, newStream("big"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var tooLarge *apierrors.StatusError
	var last *imagev1.Image
	sent := 0
	for i := 1; i <= 100 && tooLarge == nil; i++ {
		sent++
		last = newImage(digestOf(5000 + i))
		_, err := c.ImageV1().ImageStreamMappings("size").Create(ctx, newMapping("big", "t", last), metav1.CreateOptions{})
		if err != nil {
			tooLarge = statusError(t, err)
		}
	}
	if tooLarge == nil {
		t.Fatal("100 mappings never reached a 4096-byte limit")
	}
	st := tooLarge.ErrStatus
	if st.Code != http.StatusRequestEntityTooLarge || !strings.Contains(st.Message, "size/big") || !strings.Contains(st.Message, "4096") ||
		!strings.Contains(st.Message, "prune") || st.Details == nil || st.Details.Name != "big" {
		t.Errorf("413 %+v", st)
	}
	if _, err := c.ImageV1().Images().Get(ctx, last.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the refused mapping wrote its image: %v", err)
	}
	for _, name := range history(t, c, "size", "big", "t") {
		if name == last.Name {
			t.Error("the refused mapping wrote its tag event")
		}
	}
	// D8 covers updates too: the main and the status endpoints.
	is, err := c.ImageV1().ImageStreams("size").Get(ctx, "big", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	grown := is.DeepCopy()
	for i := 0; i < 100; i++ {
		grown.Spec.Tags = append(grown.Spec.Tags, imagev1.TagReference{Name: fmt.Sprintf("extra%d", i), From: newStream("x", "v").Spec.Tags[0].From})
	}
	_, err = c.ImageV1().ImageStreams("size").Update(ctx, grown, metav1.UpdateOptions{})
	if se := statusError(t, err); se.ErrStatus.Code != http.StatusRequestEntityTooLarge || !strings.Contains(se.ErrStatus.Message, "prune") {
		t.Errorf("D8 on update: %+v", se.ErrStatus)
	}
	grown = is.DeepCopy()
	grown.Status.Tags = append(grown.Status.Tags, imagev1.NamedTagEventList{Tag: "bulk", Items: make([]imagev1.TagEvent, 60)})
	for i := range grown.Status.Tags[len(grown.Status.Tags)-1].Items {
		grown.Status.Tags[len(grown.Status.Tags)-1].Items[i] = imagev1.TagEvent{Created: metav1.Now(), DockerImageReference: "registry.test:5000/size/big@" + digestOf(7000+i), Image: digestOf(7000 + i)}
	}
	_, err = c.ImageV1().ImageStreams("size").UpdateStatus(ctx, grown, metav1.UpdateOptions{})
	if se := statusError(t, err); se.ErrStatus.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("D8 on status update: %+v", se.ErrStatus)
	}
	if after, err := c.ImageV1().ImageStreams("size").Get(ctx, "big", metav1.GetOptions{}); err != nil || after.ResourceVersion != is.ResourceVersion {
		t.Errorf("refused updates changed the stream: %v", err)
	}
	if code, body, _ := rawRequestAccept(t, s, "/metrics", "text/plain"); code != 200 ||
		!strings.Contains(string(body), `openshift_image_apiserver_imagestreammappings_total{code="413"}`) ||
		!strings.Contains(string(body), "openshift_image_apiserver_imagestream_write_attempts_bucket") {
		t.Errorf("mapping metrics missing from /metrics")
	} else if want := fmt.Sprintf("openshift_image_apiserver_imagestream_write_attempts_count %d\n", sent); !strings.Contains(string(body), want) {
		t.Errorf("metrics lack %q: one observation per mapping", strings.TrimSpace(want))
	}
}

// TestMappingRawRegistryRequest POSTs JSON shaped like the integrated registry's without a
// typed client, and YAML like `kubectl create` of the documentation file.
func TestMappingRawRegistryRequest(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	ctx := testContext(t)
	if _, err := s.ImageClient(framework.ContentTypes[0]).ImageV1().ImageStreams("test").Create(ctx, newStream("origin-ruby-sample"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pushed := pushedImage(t, "raw")
	body, _ := json.Marshal(map[string]interface{}{
		"kind": "ImageStreamMapping", "apiVersion": "image.openshift.io/v1",
		"metadata": map[string]string{"namespace": "test", "name": "origin-ruby-sample"},
		"image":    pushed, "tag": "pushed",
	})
	code, reply, _ := rawRequest(t, s, "POST", "/apis/image.openshift.io/v1/namespaces/test/imagestreammappings", "application/json", body)
	var st metav1.Status
	if err := json.Unmarshal(reply, &st); err != nil || code != 201 || st.Status != "Success" || st.Code != 201 {
		t.Errorf("registry-shaped POST: %d %s", code, reply)
	}
	doc, err := os.ReadFile("../../examples/mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if code, reply, _ := rawRequest(t, s, "POST", "/apis/image.openshift.io/v1/namespaces/test/imagestreammappings", "application/yaml", doc); code != 201 {
		t.Errorf("documentation YAML: %d %s", code, reply)
	}
	var asJSON map[string]interface{}
	if err := yaml.Unmarshal(doc, &asJSON); err != nil {
		t.Fatal(err)
	}
}

// TestMappingWithEtcdDown kills etcd while a load of mappings is in flight. No request hangs:
// each is answered 201, or 429, 503 or 504 with Retry-After (never a 500). Once etcd is back,
// every 201 is recorded with its image, no answer that says "not recorded" was recorded, and
// no image lacks its tag event (D6, D14).
func TestMappingWithEtcdDown(t *testing.T) {
	etcd := framework.StartEtcd(t)
	s := framework.StartServer(t, framework.Options{EtcdServers: etcd.URL})
	c := s.ImageClient(framework.ContentTypes[0])
	ctx := testContext(t)
	const ns, workers = "down", 16
	for i := 0; i < workers/2; i++ {
		if _, err := c.ImageV1().ImageStreams(ns).Create(ctx, newStream(fmt.Sprintf("own%d", i)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.ImageV1().ImageStreams(ns).Create(ctx, newStream("hot"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	httpClient, err := rest.HTTPClientFor(s.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	// No hang: a request that has no answer after 40 s fails the test. Raw requests, so that
	// client-go's retries do not hide any answer.
	httpClient.Timeout = 40 * time.Second

	type outcome struct {
		stream, digest string
		code           int
		body           string
		retryAfter     string
		err            error
	}
	var (
		mu        sync.Mutex
		outcomes  []outcome
		ok        atomic.Int32
		killed    atomic.Bool
		afterKill [workers]atomic.Int32
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			stream := "hot"
			if w%2 == 0 {
				stream = fmt.Sprintf("own%d", w/2)
			}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				img := newImage(digestOf(60000 + w*10000 + i))
				body, _ := json.Marshal(newMapping(stream, "v1", img))
				o := outcome{stream: stream, digest: img.Name}
				wasKilled := killed.Load()
				resp, err := httpClient.Post(s.URL+"/apis/image.openshift.io/v1/namespaces/"+ns+"/imagestreammappings", "application/json", bytes.NewReader(body))
				if err != nil {
					o.err = err
				} else {
					data, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					o.code, o.body, o.retryAfter = resp.StatusCode, string(data), resp.Header.Get("Retry-After")
				}
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
				if o.code == http.StatusCreated {
					ok.Add(1)
				}
				if wasKilled {
					afterKill[w].Add(1)
				}
			}
		}(w)
	}
	poll := func(what string, cond func() bool) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) { return cond(), nil }); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	poll("mappings to succeed", func() bool { return ok.Load() >= 100 })
	killed.Store(true)
	etcd.Kill()
	poll("every worker to be answered while etcd is down", func() bool {
		for w := range afterKill {
			if afterKill[w].Load() < 1 {
				return false
			}
		}
		return true
	})
	etcd.Start(t)
	okBefore := ok.Load()
	poll("mappings to succeed again after etcd restarted", func() bool { return ok.Load() >= okBefore+50 })
	close(stop)
	wg.Wait()

	images, err := c.ImageV1().Images().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, img := range images.Items {
		stored[img.Name] = true
	}
	recorded := map[string]bool{}
	for _, name := range append([]string{"hot"}, func() []string {
		var own []string
		for i := 0; i < workers/2; i++ {
			own = append(own, fmt.Sprintf("own%d", i))
		}
		return own
	}()...) {
		for _, digest := range history(t, c, ns, name, "v1") {
			recorded[name+"@"+digest] = true
		}
	}
	codes := map[int]int{}
	for _, o := range outcomes {
		codes[o.code]++
		in := recorded[o.stream+"@"+o.digest]
		switch {
		case o.err != nil:
			t.Errorf("no answer: %v", o.err)
		case o.code == http.StatusCreated:
			if !in || !stored[o.digest] {
				t.Errorf("answered 201 but not recorded: %s in %s (event %v, image %v)", o.digest, o.stream, in, stored[o.digest])
			}
		case o.code != http.StatusTooManyRequests && o.code != http.StatusServiceUnavailable && o.code != http.StatusGatewayTimeout:
			t.Errorf("answer %d, want 201, 429, 503 or 504: %s", o.code, o.body)
		case o.retryAfter == "" || !strings.Contains(o.body, `"kind":"imagestreammappings"`):
			t.Errorf("answer %d without Retry-After or details: %s", o.code, o.body)
		case !strings.Contains(o.body, "may have been recorded") && (in || stored[o.digest]):
			t.Errorf("answered %d \"not recorded\" but recorded: %s in %s: %s", o.code, o.digest, o.stream, o.body)
		}
		if stored[o.digest] && !in {
			t.Errorf("image %s is stored without its tag event in %s", o.digest, o.stream)
		}
	}
	t.Logf("answers by code: %v (transport errors under 0)", codes)
	if codes[http.StatusServiceUnavailable]+codes[http.StatusGatewayTimeout]+codes[http.StatusTooManyRequests] == 0 {
		t.Error("no request was answered while etcd was down: the test did not exercise the fault")
	}
}
