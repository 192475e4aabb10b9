package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

// istagRef is a spec tag that follows a registry image.
func istagRef(pullSpec string) *imagev1.TagReference {
	return &imagev1.TagReference{From: &corev1.ObjectReference{Kind: "DockerImage", Name: pullSpec}, Reference: true}
}

func newISTag(name string, tag *imagev1.TagReference) *imagev1.ImageStreamTag {
	return &imagev1.ImageStreamTag{ObjectMeta: metav1.ObjectMeta{Name: name}, Tag: tag}
}

// pushTo maps a pushed (manifest-carrying) image to stream:tag and returns the stored image.
func pushTo(t *testing.T, c imageclient.Interface, ns, stream, tag, salt string) *imagev1.Image {
	t.Helper()
	ctx := testContext(t)
	if _, err := c.ImageV1().ImageStreams(ns).Create(ctx, newStream(stream), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	img := pushedImage(t, salt)
	if _, err := c.ImageV1().ImageStreamMappings(ns).Create(ctx, newMapping(stream, tag, img), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	stored, err := c.ImageV1().Images().Get(ctx, img.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return stored
}

// TestImageStreamTagRead: an ImageStreamTag is composed from its stream and image as OpenShift
// does, and the 400 and 404s name what is missing.
func TestImageStreamTagRead(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	forEachContentType(t, func(t *testing.T, ct string) {
		ns := "read-" + shortName(ct)
		ctx := testContext(t)
		c := s.ImageClient(ct)
		img := pushTo(t, c, ns, "app", "v1", ns)
		stream, err := c.ImageV1().ImageStreams(ns).Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}

		ist, err := c.ImageV1().ImageStreamTags(ns).Get(ctx, "app:v1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		head := stream.Status.Tags[0].Items[0]
		if ist.Name != "app:v1" || ist.ResourceVersion != stream.ResourceVersion || ist.UID != stream.UID ||
			!ist.CreationTimestamp.Equal(&head.Created) || ist.Generation != head.Generation || ist.Tag != nil {
			t.Errorf("composed metadata %+v generation %d tag %v; stream rv %s uid %s head %+v", ist.ObjectMeta, ist.Generation, ist.Tag, stream.ResourceVersion, stream.UID, head)
		}
		if ist.Image.Name != img.Name || ist.Image.DockerImageReference != head.DockerImageReference ||
			ist.Image.DockerImageManifest != "" || ist.Image.DockerImageConfig != "" ||
			len(ist.Image.DockerImageLayers) != 2 || len(ist.Image.DockerImageMetadata.Raw) == 0 {
			t.Errorf("composed image %+v", ist.Image)
		}

		for _, tc := range []struct {
			name, wantMessage string
			wantCode          int32
		}{
			{"app", "ImageStreamTags must be retrieved with <name>:<tag>", 400},
			{"app:v1:x", "ImageStreamTags must be retrieved with <name>:<tag>", 400},
			{"missing:v1", `imagestreamtags.image.openshift.io "missing" not found`, 404},
			{"app:v2", `imagestreamtags.image.openshift.io "app:v2" not found`, 404},
		} {
			_, err := c.ImageV1().ImageStreamTags(ns).Get(ctx, tc.name, metav1.GetOptions{})
			se := statusError(t, err)
			if se.ErrStatus.Code != tc.wantCode || !strings.Contains(se.ErrStatus.Message, tc.wantMessage) {
				t.Errorf("GET %s: %d %q, want %d %q", tc.name, se.ErrStatus.Code, se.ErrStatus.Message, tc.wantCode, tc.wantMessage)
			}
		}

		// The image of a tag can be deleted: the tag's GET then says which image is gone.
		if err := c.ImageV1().Images().Delete(ctx, img.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err = c.ImageV1().ImageStreamTags(ns).Get(ctx, "app:v1", metav1.GetOptions{})
		if se := statusError(t, err); se.ErrStatus.Code != 404 || !strings.Contains(se.ErrStatus.Message, img.Name) {
			t.Errorf("tag of a deleted image: %v", err)
		}
		// The ImageTag still shows the tag, with image null.
		itag, err := c.ImageV1().ImageTags(ns).Get(ctx, "app:v1", metav1.GetOptions{})
		if err != nil || itag.Image != nil || itag.Status == nil || len(itag.Status.Items) != 1 {
			t.Errorf("imagetag of a deleted image: %v %+v", err, itag)
		}
	})
}

// TestImageStreamTagWrites: create (creating the stream), 409 on an existing spec tag,
// update-creates with 201, resourceVersion preconditions, delete of spec and history with the
// image kept, dry run.
func TestImageStreamTagWrites(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	forEachContentType(t, func(t *testing.T, ct string) {
		ns := "writes-" + shortName(ct)
		ctx := testContext(t)
		c := s.ImageClient(ct)
		tags := c.ImageV1().ImageStreamTags(ns)

		// Create on a missing stream creates it, with OpenShift's create rules.
		created, err := tags.Create(ctx, newISTag("web:1.0", istagRef("quay.io/example/web:1.0")), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if created.Tag == nil || created.Tag.Name != "1.0" || created.Tag.Generation == nil || *created.Tag.Generation != 1 {
			t.Errorf("created tag %+v", created.Tag)
		}
		stream, err := c.ImageV1().ImageStreams(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if stream.Generation != 1 || len(stream.Status.Tags) != 1 || stream.Status.Tags[0].Items[0].DockerImageReference != "quay.io/example/web:1.0" {
			t.Errorf("stream created by the tag: generation %d status %+v", stream.Generation, stream.Status.Tags)
		}
		if created.ResourceVersion != stream.ResourceVersion {
			t.Errorf("answer's resourceVersion %s, stream's %s", created.ResourceVersion, stream.ResourceVersion)
		}

		// A second create of the same tag is 409, named as OpenShift names it.
		_, err = tags.Create(ctx, newISTag("web:1.0", istagRef("quay.io/example/web:other")), metav1.CreateOptions{})
		if se := statusError(t, err); se.ErrStatus.Code != 409 || se.ErrStatus.Message != `imagestreamtag.image.openshift.io "web:1.0" already exists` {
			t.Errorf("second create: %v", err)
		}

		// A name without ':' is a 422 that says what to write (OpenShift answers 500).
		_, err = tags.Create(ctx, newISTag("web", istagRef("quay.io/example/web:1")), metav1.CreateOptions{})
		if se := statusError(t, err); se.ErrStatus.Code != 422 || fmt.Sprint(causeFields(se)) != "[metadata.name]" || !strings.Contains(se.ErrStatus.Message, "<stream>:<tag>") {
			t.Errorf("create without ':': %v", err)
		}
		// An invalid tag reference names its field.
		_, err = tags.Create(ctx, newISTag("web:bad", &imagev1.TagReference{From: &corev1.ObjectReference{Kind: "Pod", Name: "x"}}), metav1.CreateOptions{})
		if se := statusError(t, err); se.ErrStatus.Code != 422 || fmt.Sprint(causeFields(se)) != "[tag.from.kind]" {
			t.Errorf("create with a bad kind: %v", err)
		}

		// Update of a missing tag creates it: 201, as `oc tag` expects.
		code, body, _ := rawRequest(t, s, http.MethodPut, "/apis/image.openshift.io/v1/namespaces/"+ns+"/imagestreamtags/web:2.0", "application/json",
			[]byte(`{"apiVersion":"image.openshift.io/v1","kind":"ImageStreamTag","metadata":{"name":"web:2.0"},"tag":{"from":{"kind":"ImageStreamTag","name":"web:1.0"}}}`))
		if code != http.StatusCreated {
			t.Fatalf("PUT of a new tag: %d %s", code, body)
		}
		code, body, _ = rawRequest(t, s, http.MethodPut, "/apis/image.openshift.io/v1/namespaces/"+ns+"/imagestreamtags/web:2.0", "application/json",
			[]byte(`{"apiVersion":"image.openshift.io/v1","kind":"ImageStreamTag","metadata":{"name":"web:2.0","annotations":{"note":"x"}},"tag":{"from":{"kind":"DockerImage","name":"quay.io/example/web:2.0"},"reference":true}}`))
		if code != http.StatusOK {
			t.Fatalf("PUT of an existing tag: %d %s", code, body)
		}
		got, err := tags.Get(ctx, "web:2.0", metav1.GetOptions{})
		if err == nil {
			t.Errorf("a reference tag has no image, so no ImageStreamTag: %+v", got)
		}
		stream, err = c.ImageV1().ImageStreams(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		spec := imageutil.SpecTag(stream, "2.0")
		if spec == nil || spec.From.Name != "quay.io/example/web:2.0" || spec.Annotations["note"] != "x" || stream.Generation != 3 || *spec.Generation != 3 {
			t.Errorf("after two PUTs: generation %d spec tag %+v", stream.Generation, spec)
		}

		// A JSON merge patch through client-go changes the tag's annotations,
		// and with them the spec tag's.
		patched := &imagev1.ImageStreamTag{}
		if err := mergePatch(ctx, c, ns, "imagestreamtags", "web:2.0", `{"metadata":{"annotations":{"note":"patched"}}}`, patched); err != nil {
			t.Fatal(err)
		}
		if patched.Annotations["note"] != "patched" || patched.Tag == nil || patched.Tag.Annotations["note"] != "patched" {
			t.Errorf("patched tag: annotations %v, tag %+v", patched.Annotations, patched.Tag)
		}
		stream, err = c.ImageV1().ImageStreams(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}

		// A stale resourceVersion is 409; the current one applies.
		stale := created.ResourceVersion
		upd := newISTag("web:1.0", istagRef("quay.io/example/web:1.1"))
		upd.ResourceVersion = stale
		_, err = tags.Update(ctx, upd, metav1.UpdateOptions{})
		if se := statusError(t, err); se.ErrStatus.Code != 409 || !strings.Contains(se.ErrStatus.Message, "another caller has updated the resource version to "+stream.ResourceVersion) {
			t.Errorf("update at a stale resourceVersion: %v", err)
		}
		upd.ResourceVersion = stream.ResourceVersion
		if _, err := tags.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
			t.Errorf("update at the current resourceVersion: %v", err)
		}
		// A resourceVersion for a stream that does not exist is 404.
		missing := newISTag("nostream:1", istagRef("quay.io/example/x:1"))
		missing.ResourceVersion = "5"
		if _, err := tags.Update(ctx, missing, metav1.UpdateOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("update of a missing stream with a resourceVersion: %v", err)
		}
		// Updating a status-only tag without a tag is 400 and says how to create it.
		img := pushTo(t, c, ns, "web", "pushed", ns)
		_, err = tags.Update(ctx, &imagev1.ImageStreamTag{ObjectMeta: metav1.ObjectMeta{Name: "web:pushed"}}, metav1.UpdateOptions{})
		if se := statusError(t, err); se.ErrStatus.Code != 400 || !strings.Contains(se.ErrStatus.Message, "is not a spec tag") {
			t.Errorf("update of a status-only tag without tag: %v", err)
		}

		// Dry run: answered, nothing written.
		if _, err := tags.Create(ctx, newISTag("web:dry", istagRef("quay.io/example/web:dry")), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Fatal(err)
		}
		if _, err := tags.Create(ctx, newISTag("drystream:1", istagRef("quay.io/example/web:dry")), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Fatal(err)
		}
		if err := tags.Delete(ctx, "web:pushed", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Fatal(err)
		}
		stream, err = c.ImageV1().ImageStreams(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if imageutil.SpecTag(stream, "dry") != nil || imageutil.StatusTag(stream, "pushed") == nil {
			t.Errorf("dry runs wrote: spec %+v status %+v", stream.Spec.Tags, stream.Status.Tags)
		}
		if _, err := c.ImageV1().ImageStreams(ns).Get(ctx, "drystream", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("a dry-run create made a stream: %v", err)
		}

		// Delete removes spec and history; the image stays. Deleting again is 404.
		if err := tags.Delete(ctx, "web:pushed", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := tags.Delete(ctx, "web:1.0", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		stream, err = c.ImageV1().ImageStreams(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if imageutil.SpecTag(stream, "1.0") != nil || imageutil.StatusTag(stream, "1.0") != nil || imageutil.StatusTag(stream, "pushed") != nil {
			t.Errorf("after delete: spec %+v status %+v", stream.Spec.Tags, stream.Status.Tags)
		}
		if _, err := c.ImageV1().Images().Get(ctx, img.Name, metav1.GetOptions{}); err != nil {
			t.Errorf("the image of a deleted tag: %v", err)
		}
		err = tags.Delete(ctx, "web:1.0", metav1.DeleteOptions{})
		if se := statusError(t, err); se.ErrStatus.Code != 404 || se.ErrStatus.Message != `imagestreamtags.image.openshift.io "web:1.0" not found` {
			t.Errorf("second delete: %v", err)
		}
		err = tags.Delete(ctx, "nostream:1", metav1.DeleteOptions{})
		if se := statusError(t, err); se.ErrStatus.Code != 404 || se.ErrStatus.Message != `imagestreamtags.image.openshift.io "nostream" not found` {
			t.Errorf("delete in a missing stream: %v", err)
		}
		wrongUID := types.UID("not-the-stream")
		err = tags.Delete(ctx, "web:2.0", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &wrongUID}})
		if se := statusError(t, err); se.ErrStatus.Code != 409 {
			t.Errorf("delete with a wrong UID precondition: %v", err)
		}
	})
}

// TestImageStreamTagList: every tag with an image, sorted; label selectors select streams,
// field selectors select tags.
func TestImageStreamTagList(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	ctx := testContext(t)
	c := s.ImageClient(framework.ContentTypes[1])
	pushTo(t, c, "list", "b", "v1", "list-b1")
	pushTo(t, c, "list", "a", "v2", "list-a2")
	pushTo(t, c, "list", "a", "v1", "list-a1")
	labelled := newStream("c")
	labelled.Labels = map[string]string{"team": "x"}
	if _, err := c.ImageV1().ImageStreams("list").Create(ctx, labelled, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pushTo(t, c, "list", "c", "v1", "list-c1")
	// A reference tag has no image: it is no ImageStreamTag.
	if _, err := c.ImageV1().ImageStreamTags("list").Create(ctx, newISTag("a:ref", istagRef("quay.io/x/y:1")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	names := func(opts metav1.ListOptions) string {
		list, err := c.ImageV1().ImageStreamTags("list").List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, it := range list.Items {
			if it.Image.Name == "" || it.Image.DockerImageReference == "" || it.Image.DockerImageMetadata.Raw != nil {
				t.Errorf("list item's image %+v: want only name and reference", it.Image)
			}
			out = append(out, it.Name)
		}
		return strings.Join(out, " ")
	}
	if got := names(metav1.ListOptions{}); got != "a:v1 a:v2 b:v1 c:v1" {
		t.Errorf("list: %s", got)
	}
	if got := names(metav1.ListOptions{LabelSelector: "team=x"}); got != "c:v1" {
		t.Errorf("label selector: %s", got)
	}
	if got := names(metav1.ListOptions{FieldSelector: "metadata.name=a:v2"}); got != "a:v2" {
		t.Errorf("field selector: %s", got)
	}
	itags, err := c.ImageV1().ImageTags("list").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range itags.Items {
		got = append(got, it.Name)
		if it.Image != nil {
			t.Errorf("imagetag list item %s has an image", it.Name)
		}
	}
	if strings.Join(got, " ") != "a:ref a:v1 a:v2 b:v1 c:v1" {
		t.Errorf("imagetag list: %v", got)
	}
}

// TestConcurrentTagWrites: D15. Sixteen concurrent tag writes to one stream — creates of
// different tags, updates of one tag, deletes — all succeed (OpenShift answers 504 after
// ten retries), and the stream holds every change.
func TestConcurrentTagWrites(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	forEachContentType(t, func(t *testing.T, ct string) {
		ns := "contention-" + shortName(ct)
		ctx := testContext(t)
		c := s.ImageClient(ct)
		if _, err := c.ImageV1().ImageStreams(ns).Create(ctx, newStream("hot", "gone-0", "gone-1", "gone-2", "gone-3"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		const writers = 16
		var wg sync.WaitGroup
		errs := make([]error, writers*2)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch {
				case i < 8: // creates of distinct tags through imagestreamtags
					_, errs[i] = c.ImageV1().ImageStreamTags(ns).Create(ctx, newISTag(fmt.Sprintf("hot:new-%d", i), istagRef(fmt.Sprintf("quay.io/example/hot:%d", i))), metav1.CreateOptions{})
				case i < 12: // unconditional updates of one tag through imagetags
					_, errs[i] = c.ImageV1().ImageTags(ns).Update(ctx, &imagev1.ImageTag{
						ObjectMeta: metav1.ObjectMeta{Name: "hot:shared"},
						// A reference: nothing to import, so only these writes move the generation.
						Spec: &imagev1.TagReference{Name: "shared", From: &corev1.ObjectReference{Kind: "DockerImage", Name: fmt.Sprintf("quay.io/example/hot:shared-%d", i)}, Reference: true},
					}, metav1.UpdateOptions{})
				default: // deletes
					errs[i] = c.ImageV1().ImageStreamTags(ns).Delete(ctx, fmt.Sprintf("hot:gone-%d", i-12), metav1.DeleteOptions{})
				}
			}()
		}
		// Mappings to the same stream at the same time.
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				img := newImage(digestOf(5000 + i))
				_, errs[writers+i] = c.ImageV1().ImageStreamMappings(ns).Create(ctx, newMapping("hot", fmt.Sprintf("pushed-%d", i%4), img), metav1.CreateOptions{})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
		}
		stream, err := c.ImageV1().ImageStreams(ns).Get(ctx, "hot", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var specNames []string
		for _, tag := range stream.Spec.Tags {
			specNames = append(specNames, tag.Name)
		}
		sort.Strings(specNames)
		if strings.Join(specNames, " ") != "new-0 new-1 new-2 new-3 new-4 new-5 new-6 new-7 shared" {
			t.Errorf("spec tags after the writes: %v", specNames)
		}
		pushed := 0
		for i := range 4 {
			if st := imageutil.StatusTag(stream, fmt.Sprintf("pushed-%d", i)); st != nil {
				pushed += len(st.Items)
			}
		}
		if pushed != writers {
			t.Errorf("%d mapping events recorded, want %d", pushed, writers)
		}
		// Every spec write moved the generation: one create, eight tag creates, four updates
		// and four deletes.
		if stream.Generation != 1+8+4+4 {
			t.Errorf("generation %d, want %d", stream.Generation, 1+8+4+4)
		}
	})
}

// TestImageTagWrites: ImageTag's own rules: spec required on create, spec null removes the
// spec tag, only spec may change.
func TestImageTagWrites(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	forEachContentType(t, func(t *testing.T, ct string) { testImageTagWrites(t, s, ct) })
}

func testImageTagWrites(t *testing.T, s *framework.Server, ct string) {
	ctx := testContext(t)
	c := s.ImageClient(ct)
	itags := c.ImageV1().ImageTags("itag-" + shortName(ct))

	_, err := itags.Create(ctx, &imagev1.ImageTag{ObjectMeta: metav1.ObjectMeta{Name: "app:v1"}}, metav1.CreateOptions{})
	if se := statusError(t, err); se.ErrStatus.Code != 422 || fmt.Sprint(causeFields(se)) != "[spec]" {
		t.Errorf("create without spec: %v", err)
	}
	_, err = itags.Create(ctx, &imagev1.ImageTag{ObjectMeta: metav1.ObjectMeta{Name: "app:v1"}, Spec: &imagev1.TagReference{Name: "other"}}, metav1.CreateOptions{})
	if se := statusError(t, err); se.ErrStatus.Code != 422 || fmt.Sprint(causeFields(se)) != "[spec.name]" {
		t.Errorf("create with a mismatched spec name: %v", err)
	}
	created, err := itags.Create(ctx, &imagev1.ImageTag{ObjectMeta: metav1.ObjectMeta{Name: "app:v1"}, Spec: istagRef("quay.io/example/app:1")}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Spec == nil || created.Spec.Name != "v1" || created.Status == nil || len(created.Status.Items) != 1 || created.Image != nil {
		t.Errorf("created imagetag %+v", created)
	}
	_, err = itags.Create(ctx, &imagev1.ImageTag{ObjectMeta: metav1.ObjectMeta{Name: "app:v1"}, Spec: istagRef("quay.io/example/app:1")}, metav1.CreateOptions{})
	if se := statusError(t, err); se.ErrStatus.Code != 409 || se.ErrStatus.Message != `imagetags.image.openshift.io "app:v1" already exists` {
		t.Errorf("second create: %v", err)
	}

	// Changing metadata is refused; spec null removes the spec tag and keeps the history.
	current, err := itags.Get(ctx, "app:v1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	current.Labels = map[string]string{"new": "label"}
	_, err = itags.Update(ctx, current, metav1.UpdateOptions{})
	if se := statusError(t, err); se.ErrStatus.Code != 422 || !strings.Contains(se.ErrStatus.Message, "may not update fields other than spec") {
		t.Errorf("update of labels: %v", err)
	}
	// A merge patch of the spec through client-go.
	patched := &imagev1.ImageTag{}
	if err := mergePatch(ctx, c, "itag-"+shortName(ct), "imagetags", "app:v1", `{"spec":{"from":{"name":"quay.io/example/app:2"}}}`, patched); err != nil {
		t.Fatal(err)
	}
	// The same image ("", a reference) under a new pull spec rewrites the head in place.
	if patched.Spec == nil || patched.Spec.From.Name != "quay.io/example/app:2" || len(patched.Status.Items) != 1 || patched.Status.Items[0].DockerImageReference != "quay.io/example/app:2" {
		t.Errorf("patched imagetag: spec %+v status %+v", patched.Spec, patched.Status)
	}
	// The object read before the patch is stale now: its resourceVersion is refused.
	current.Labels = nil
	current.Spec = nil
	_, err = itags.Update(ctx, current, metav1.UpdateOptions{})
	if se := statusError(t, err); se.ErrStatus.Code != 409 {
		t.Errorf("update at the version before the patch: %v", err)
	}
	if current, err = itags.Get(ctx, "app:v1", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	current.Labels = nil
	current.Spec = nil
	updated, err := itags.Update(ctx, current, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if updated.Spec != nil || updated.Status == nil {
		t.Errorf("after spec null: %+v", updated)
	}
	if err := itags.Delete(ctx, "app:v1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = itags.Get(ctx, "app:v1", metav1.GetOptions{})
	if se := statusError(t, err); se.ErrStatus.Code != 404 || se.ErrStatus.Message != `imagetags.image.openshift.io "app:v1" not found` {
		t.Errorf("get after delete: %v", err)
	}
	_, err = itags.Get(ctx, "app", metav1.GetOptions{})
	if se := statusError(t, err); se.ErrStatus.Code != 400 || !strings.Contains(se.ErrStatus.Message, "ImageTags must be retrieved with <name>:<tag>") {
		t.Errorf("get without ':': %v", err)
	}
}

// TestTagsWithKubectl: what a user does without oc: create an ImageStreamTag from a manifest
// with kubectl's default client-side validation, patch spec tags, and read tags as tables.
func TestTagsWithKubectl(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	c := s.ImageClient(framework.ContentTypes[0])
	pushTo(t, c, "kubectl-tags", "ruby", "latest", "kubectl-tags")
	manifest := filepath.Join(t.TempDir(), "istag.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: image.openshift.io/v1
kind: ImageStreamTag
metadata:
  name: ruby:prod
  namespace: kubectl-tags
tag:
  from:
    kind: ImageStreamTag
    name: ruby:latest
`), 0o600); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		args    []string
		wantErr bool
		want    []string
	}{
		{args: []string{"create", "-f", manifest}, want: []string{"imagestreamtag.image.openshift.io/ruby:prod created"}},
		{args: []string{"get", "istag", "-n", "kubectl-tags"}, want: []string{"NAME", "IMAGE REFERENCE", "UPDATED", "ruby:latest", "ruby:prod", "registry.test:5000/push/app@sha256:", "ago"}},
		{args: []string{"get", "istag", "-n", "kubectl-tags", "-o", "wide"}, want: []string{"IMAGE NAME", "sha256:"}},
		{args: []string{"get", "itag", "-n", "kubectl-tags"}, want: []string{"NAME", "SPEC", "STATUS", "HISTORY", "UPDATED", "ruby:latest", "Push", "ruby:prod", "Tag", "image/sha256:"}},
		{args: []string{"patch", "is", "ruby", "-n", "kubectl-tags", "--type", "merge", "-p", `{"spec":{"tags":[{"name":"stable","from":{"kind":"ImageStreamTag","name":"ruby:latest"}}]}}`}, want: []string{"patched"}},
		{args: []string{"get", "istag", "ruby:stable", "-n", "kubectl-tags", "-o", "jsonpath={.image.metadata.name}"}, want: []string{"sha256:"}},
		{args: []string{"patch", "istag", "ruby:prod", "-n", "kubectl-tags", "--type", "merge", "-p", `{"tag":{"from":{"kind":"DockerImage","name":"quay.io/example/ruby:3"},"reference":true}}`}, want: []string{"patched"}},
		{args: []string{"get", "itag", "ruby:prod", "-n", "kubectl-tags"}, want: []string{"Ref", "quay.io/example/ruby:3"}},
		{args: []string{"delete", "istag", "ruby:prod", "-n", "kubectl-tags"}, want: []string{"deleted"}},
		{args: []string{"get", "istag", "ruby:prod", "-n", "kubectl-tags"}, wantErr: true, want: []string{"NotFound"}},
	}
	for _, step := range steps {
		out, err := kubectl(t, s, "", step.args...)
		if (err != nil) != step.wantErr {
			t.Errorf("kubectl %v: err %v\n%s", step.args, err, out)
			continue
		}
		for _, w := range step.want {
			if !strings.Contains(out, w) {
				t.Errorf("kubectl %v: output lacks %q:\n%s", step.args, w, out)
			}
		}
	}
}

// mergePatch sends a JSON merge patch through client-go (the typed tag clients have no Patch),
// negotiating the client's content type for the answer.
func mergePatch(ctx context.Context, c imageclient.Interface, ns, resource, name, patch string, into runtime.Object) error {
	return c.ImageV1().RESTClient().Patch(types.MergePatchType).Namespace(ns).Resource(resource).Name(name).
		Body([]byte(patch)).Do(ctx).Into(into)
}
