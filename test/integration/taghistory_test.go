package integration

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

const maxTagHistoryAnnotation = "image.openshift.io/max-tag-history"

// TestTagHistoryLimit (D16): with --max-tag-history, a hot tag keeps its newest events and
// every push is a 201, on a size limit the same pushes would pass without the history limit;
// the stream's annotation overrides the flag, and an unreadable annotation is a 422.
func TestTagHistoryLimit(t *testing.T) {
	const limit = 5
	s := framework.StartServer(t, framework.Options{ExtraArgs: []string{
		fmt.Sprintf("--max-tag-history=%d", limit),
		// A few dozen events of one tag: the 64 pushes below would pass it without the history
		// limit (TestMappingSizeGuard).
		"--max-imagestream-bytes=4096",
	}})
	ctx := testContext(t)
	const ns = "hist"

	forEachContentType(t, func(t *testing.T, contentType string) {
		c := s.ImageClient(contentType)
		name := "hot-" + shortName(contentType)
		if _, err := c.ImageV1().ImageStreams(ns).Create(ctx, newStream(name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// 16 clients push 4 mappings each into one tag at once.
		const clients, each = 16, 4
		base := 1000
		if contentType != framework.ContentTypes[0] {
			base = 2000
		}
		codes := make([]int, clients*each)
		var wg sync.WaitGroup
		for w := range clients {
			wg.Go(func() {
				for i := range each {
					n := w*each + i
					res := c.ImageV1().RESTClient().Post().Namespace(ns).Resource("imagestreammappings").
						Body(newMapping(name, "latest", newImage(digestOf(base+n)))).Do(ctx)
					res.StatusCode(&codes[n])
					if err := res.Error(); err != nil {
						t.Errorf("push %d: %v", n, err)
					}
				}
			})
		}
		wg.Wait()
		for n, code := range codes {
			if code != http.StatusCreated {
				t.Errorf("push %d answered %d, want 201", n, code)
			}
		}
		h := history(t, c, ns, name, "latest")
		if len(h) != limit {
			t.Errorf("history of %d events, want %d: %v", len(h), limit, h)
		}
		// Every image stays: the limit drops events, not images.
		for n := range clients * each {
			if _, err := c.ImageV1().Images().Get(ctx, digestOf(base+n), metav1.GetOptions{}); err != nil {
				t.Errorf("image of push %d: %v", n, err)
			}
		}
	})

	c := s.ImageClient(framework.ContentTypes[0])
	annotated := func(name, value string) *imagev1.ImageStream {
		is := newStream(name)
		is.Annotations = map[string]string{maxTagHistoryAnnotation: value}
		return is
	}
	t.Run("annotation", func(t *testing.T) {
		for name, value := range map[string]string{"two": "2", "unbounded": "0"} {
			if _, err := c.ImageV1().ImageStreams(ns).Create(ctx, annotated(name, value), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			for i := range 8 {
				if _, err := c.ImageV1().ImageStreamMappings(ns).Create(ctx, newMapping(name, "v", newImage(digestOf(3000+i))), metav1.CreateOptions{}); err != nil {
					t.Fatalf("%s: push %d: %v", name, i, err)
				}
			}
		}
		if h := history(t, c, ns, "two", "v"); !slices.Equal(h, []string{digestOf(3007), digestOf(3006)}) {
			t.Errorf("annotation 2: history %v, want the last two pushes", h)
		}
		if h := history(t, c, ns, "unbounded", "v"); len(h) != 8 {
			t.Errorf("annotation 0: history of %d events, want all 8", len(h))
		}
	})

	t.Run("tag writes", func(t *testing.T) {
		// Each write points the tag at another image of a stream without a limit, which
		// resolves into a new event: an ImageStreamTag create, then ImageTag updates, all
		// through the stream writer.
		if _, err := c.ImageV1().ImageStreams(ns).Create(ctx, annotated("source", "0"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		from := func(i int) *imagev1.TagReference {
			img := newImage(digestOf(5000 + i))
			if _, err := c.ImageV1().ImageStreamMappings(ns).Create(ctx, newMapping("source", "src", img), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			return &imagev1.TagReference{From: &corev1.ObjectReference{Kind: "ImageStreamImage", Name: "source@" + img.Name}}
		}
		if _, err := c.ImageV1().ImageStreamTags(ns).Create(ctx, newISTag("tagged:v", from(0)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for i := 1; i < 8; i++ {
			it, err := c.ImageV1().ImageTags(ns).Get(ctx, "tagged:v", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			it.Spec = from(i)
			if _, err := c.ImageV1().ImageTags(ns).Update(ctx, it, metav1.UpdateOptions{}); err != nil {
				t.Fatalf("tag write %d: %v", i, err)
			}
		}
		is, err := c.ImageV1().ImageStreams(ns).Get(ctx, "tagged", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(is.Status.Tags) != 1 || len(is.Status.Tags[0].Items) != limit || is.Status.Tags[0].Items[0].Image != digestOf(5007) {
			t.Errorf("after 8 tag writes: status %+v, want %d events headed by the last", is.Status.Tags, limit)
		}
	})

	t.Run("unreadable annotation", func(t *testing.T) {
		wantInvalid := func(what string, err error) {
			t.Helper()
			se := statusError(t, err)
			if se.ErrStatus.Code != http.StatusUnprocessableEntity || !slices.Contains(causeFields(se), "metadata.annotations["+maxTagHistoryAnnotation+"]") {
				t.Errorf("%s: %+v, want a 422 at the annotation", what, se.ErrStatus)
			}
		}
		_, err := c.ImageV1().ImageStreams(ns).Create(ctx, annotated("bad", "-1"), metav1.CreateOptions{})
		wantInvalid("create", err)
		is, err := c.ImageV1().ImageStreams(ns).Get(ctx, "two", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		is.Annotations[maxTagHistoryAnnotation] = "lots"
		_, err = c.ImageV1().ImageStreams(ns).Update(ctx, is, metav1.UpdateOptions{})
		wantInvalid("update", err)
	})

	t.Run("many tags still reach the size limit", func(t *testing.T) {
		if _, err := c.ImageV1().ImageStreams(ns).Create(ctx, newStream("wide"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var err error
		for i := 0; err == nil && i < 100; i++ {
			_, err = c.ImageV1().ImageStreamMappings(ns).Create(ctx, newMapping("wide", fmt.Sprintf("t%d", i), newImage(digestOf(4000+i))), metav1.CreateOptions{})
		}
		if !apierrors.IsRequestEntityTooLargeError(err) {
			t.Fatalf("mappings into 100 tags: %v, want a 413", err)
		}
		msg := statusError(t, err).ErrStatus.Message
		for _, part := range []string{ns + "/wide", "4096-byte limit", "the largest tag histories: ", "--max-tag-history", maxTagHistoryAnnotation, "prune"} {
			if !strings.Contains(msg, part) {
				t.Errorf("413 %q lacks %q", msg, part)
			}
		}
	})
}
