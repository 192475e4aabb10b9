package imagestream_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistrytest "k8s.io/apiserver/pkg/registry/generic/testing"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/registry/registrytest"
)

const (
	internalHost = "image-registry.openshift-image-registry.svc:5000"
	publicHost   = "registry.example.com"
	digestA      = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)

var hostnames = imagestream.RegistryHostnames{Internal: internalHost, Public: publicHost}

// newStorage starts an etcd for the test and returns the imagestreams storage over it, with the
// server's protobuf storage codec (pkg/registry/registrytest).
func newStorage(t *testing.T, hostnames imagestream.RegistryHostnames) (*imagestream.REST, *imagestream.StatusREST, *registrytest.Storage) {
	t.Helper()
	storage := registrytest.NewStorage(t)
	streams, status, err := imagestream.NewREST(apiserver.Scheme, storage, hostnames)
	if err != nil {
		t.Fatalf("NewREST: %v", err)
	}
	t.Cleanup(streams.Destroy)
	return streams, status, storage
}

// validImageStream is a stream in the generic tester's namespace, with defaulted tag policies
// (as decoding defaults them) and the label and name the watch test selects on.
func validImageStream() *imagev1.ImageStream {
	return &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Name: "foo", Namespace: "test", Labels: map[string]string{"app": "x"}},
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{
			Name:            "latest",
			From:            &corev1.ObjectReference{Kind: "DockerImage", Name: "quay.io/a/b:1"},
			ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy},
			ImportPolicy:    imagev1.TagImportPolicy{ImportMode: imagev1.ImportModeLegacy},
		}}},
	}
}

// TestGenericStore runs apiserver's generic registry tests. They write objects straight into
// etcd and compare them with what List returns, so the read decorator must be a no-op here: no
// registry hostnames, and streams whose status repository equals their (empty) spec repository.
// The decorator is tested with hostnames below. Negative watch cases are left out because the
// tester can only prove them by waiting; TestWatchFilters proves them by ordering instead.
func TestGenericStore(t *testing.T) {
	tooLong := validImageStream()
	tooLong.Name = strings.Repeat("a", 64) // D3
	badTag := validImageStream()
	badTag.Spec.Tags[0].Name = "-bad" // D4

	tests := []struct {
		name string
		run  func(*genericregistrytest.Tester)
	}{
		{"create", func(test *genericregistrytest.Tester) { test.TestCreate(validImageStream(), tooLong, badTag) }},
		{"update", func(test *genericregistrytest.Tester) {
			test.TestUpdate(validImageStream(),
				func(obj runtime.Object) runtime.Object {
					stream := obj.(*imagev1.ImageStream)
					stream.Spec.LookupPolicy.Local = true
					return stream
				},
				func(obj runtime.Object) runtime.Object {
					stream := obj.(*imagev1.ImageStream)
					stream.Spec.Tags[0].Name = "-bad"
					return stream
				},
			)
		}},
		{"delete", func(test *genericregistrytest.Tester) { test.TestDelete(validImageStream()) }},
		{"get", func(test *genericregistrytest.Tester) { test.TestGet(validImageStream()) }},
		{"list", func(test *genericregistrytest.Tester) { test.TestList(validImageStream()) }},
		{"watch", func(test *genericregistrytest.Tester) {
			test.TestWatch(validImageStream(),
				[]labels.Set{{"app": "x"}, {}}, nil,
				[]fields.Set{{"metadata.name": "foo"}, {"metadata.namespace": "test"}, {"status.dockerImageRepository": ""}}, nil)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			streams, _, _ := newStorage(t, imagestream.RegistryHostnames{})
			tc.run(genericregistrytest.New(t, streams.Store))
		})
	}
}

func nsContext(namespace string) context.Context {
	return genericapirequest.WithNamespace(genericapirequest.NewContext(), namespace)
}

func createStream(t *testing.T, streams *imagestream.REST, stream *imagev1.ImageStream) *imagev1.ImageStream {
	t.Helper()
	obj, err := streams.Create(nsContext(stream.Namespace), stream, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create %s/%s: %v", stream.Namespace, stream.Name, err)
	}
	return obj.(*imagev1.ImageStream)
}

func update(ctx context.Context, store rest.Updater, stream *imagev1.ImageStream) (*imagev1.ImageStream, error) {
	obj, _, err := store.Update(ctx, stream.Name, rest.DefaultUpdatedObjectInfo(stream), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*imagev1.ImageStream), nil
}

func streamNames(t *testing.T, obj runtime.Object) []string {
	t.Helper()
	var names []string
	for _, item := range obj.(*imagev1.ImageStreamList).Items {
		names = append(names, item.Namespace+"/"+item.Name)
	}
	return names
}

// TestCreateGetList covers create (computed status, tags sorted by name), get, and list with
// label and field selectors through the real store.
func TestCreateGetList(t *testing.T) {
	streams, _, _ := newStorage(t, hostnames)

	in := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns", Labels: map[string]string{"tier": "web"}},
		Spec: imagev1.ImageStreamSpec{
			DockerImageRepository: "quay.io/a/app",
			Tags: []imagev1.TagReference{
				{Name: "v2", From: &corev1.ObjectReference{Kind: "DockerImage", Name: "quay.io/a/app:2"}, Reference: true, ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy}},
				{Name: "v1", From: &corev1.ObjectReference{Kind: "DockerImage", Name: "quay.io/a/app:1"}, ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy}},
			},
		},
		Status: imagev1.ImageStreamStatus{DockerImageRepository: "evil.example.com/ns/app"},
	}
	created := createStream(t, streams, in)
	createStream(t, streams, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "ns"}})
	createStream(t, streams, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns2", Labels: map[string]string{"tier": "web"}}})

	if created.Generation != 1 || created.UID == "" || created.ResourceVersion == "" {
		t.Errorf("created metadata: generation %d, uid %q, resourceVersion %q", created.Generation, created.UID, created.ResourceVersion)
	}
	if got := []string{created.Spec.Tags[0].Name, created.Spec.Tags[1].Name}; got[0] != "v1" || got[1] != "v2" {
		t.Errorf("spec tags not in canonical order: %v", got)
	}
	if created.Status.DockerImageRepository != internalHost+"/ns/app" || created.Status.PublicDockerImageRepository != publicHost+"/ns/app" {
		t.Errorf("created status repositories = %q, %q", created.Status.DockerImageRepository, created.Status.PublicDockerImageRepository)
	}
	if len(created.Status.Tags) != 1 || created.Status.Tags[0].Tag != "v2" {
		t.Errorf("created status tags = %+v, want only the reference tag v2", created.Status.Tags)
	}

	got, err := streams.Get(nsContext("ns"), "app", &metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("get differs from create (-create +get):\n%s", diff)
	}
	if _, err := streams.Get(nsContext("ns"), "missing", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get of a missing stream: error = %v, want NotFound", err)
	}

	tests := []struct {
		name      string
		namespace string
		label     string
		field     string
		want      []string
	}{
		{"namespace", "ns", "", "", []string{"ns/app", "ns/other"}},
		{"all namespaces", metav1.NamespaceAll, "", "", []string{"ns/app", "ns/other", "ns2/app"}},
		{"label selector", metav1.NamespaceAll, "tier=web", "", []string{"ns/app", "ns2/app"}},
		{"name field selector", metav1.NamespaceAll, "", "metadata.name=other", []string{"ns/other"}},
		{"spec repository field selector", metav1.NamespaceAll, "", "spec.dockerImageRepository=quay.io/a/app", []string{"ns/app"}},
		{"status repository field selector", metav1.NamespaceAll, "", "status.dockerImageRepository=" + internalHost + "/ns2/app", []string{"ns2/app"}},
		{"label and field selector", metav1.NamespaceAll, "tier=web", "metadata.namespace=ns", []string{"ns/app"}},
		{"nothing matches", "ns", "tier=db", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ls, err := labels.Parse(tc.label)
			if err != nil {
				t.Fatal(err)
			}
			fs, err := fields.ParseSelector(tc.field)
			if err != nil {
				t.Fatal(err)
			}
			list, err := streams.List(nsContext(tc.namespace), &metainternalversion.ListOptions{LabelSelector: ls, FieldSelector: fs})
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			if diff := cmp.Diff(tc.want, streamNames(t, list)); diff != "" {
				t.Errorf("listed streams (-want +got):\n%s", diff)
			}
			for _, item := range list.(*imagev1.ImageStreamList).Items {
				if want := internalHost + "/" + item.Namespace + "/" + item.Name; item.Status.DockerImageRepository != want {
					t.Errorf("listed %s/%s with status repository %q, want %q (decorator)", item.Namespace, item.Name, item.Status.DockerImageRepository, want)
				}
			}
		})
	}
}

// TestUpdate covers the update rules the store adds around the strategy: a resourceVersion is
// required, a stale one is a 409, validation runs, and the status endpoint changes
// status only while the main endpoint ignores status.
func TestUpdate(t *testing.T) {
	streams, status, _ := newStorage(t, hostnames)
	ctx := nsContext("ns")
	created := createStream(t, streams, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns"}})

	t.Run("stale resourceVersion is a conflict", func(t *testing.T) {
		current := created.DeepCopy()
		current.Spec.LookupPolicy.Local = true
		updated, err := update(ctx, streams, current)
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		if updated.Generation != 2 {
			t.Errorf("generation after a spec change = %d, want 2", updated.Generation)
		}
		stale := created.DeepCopy()
		stale.Labels = map[string]string{"a": "b"}
		if _, err := update(ctx, streams, stale); !apierrors.IsConflict(err) {
			t.Errorf("update with stale resourceVersion: error = %v, want Conflict", err)
		}
	})

	t.Run("missing resourceVersion is invalid", func(t *testing.T) {
		noRV := created.DeepCopy()
		noRV.ResourceVersion = ""
		if _, err := update(ctx, streams, noRV); !apierrors.IsInvalid(err) {
			t.Errorf("update without resourceVersion: error = %v, want Invalid", err)
		}
	})

	t.Run("invalid update is rejected", func(t *testing.T) {
		current, err := streams.Get(ctx, "app", &metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		bad := current.(*imagev1.ImageStream).DeepCopy()
		bad.Spec.Tags = []imagev1.TagReference{{Name: "-bad", ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy}}}
		_, err = update(ctx, streams, bad)
		if !apierrors.IsInvalid(err) {
			t.Fatalf("update with a bad tag name: error = %v, want Invalid", err)
		}
		causes := err.(apierrors.APIStatus).Status().Details.Causes
		if len(causes) != 1 || causes[0].Field != "spec.tags[0].name" {
			t.Errorf("causes = %+v, want one at spec.tags[0].name (D4)", causes)
		}
	})

	t.Run("status endpoint writes status only; main endpoint ignores status", func(t *testing.T) {
		obj, err := status.Get(ctx, "app", &metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		current := obj.(*imagev1.ImageStream)
		withStatus := current.DeepCopy()
		withStatus.Spec.LookupPolicy.Local = false // ignored: spec is the main endpoint's
		withStatus.Status.Tags = []imagev1.NamedTagEventList{{Tag: "pushed", Items: []imagev1.TagEvent{{
			Created: metav1.Now(), DockerImageReference: internalHost + "/ns/app@" + digestA, Image: digestA,
		}}}}
		afterStatus, err := update(ctx, status, withStatus)
		if err != nil {
			t.Fatalf("status update: %v", err)
		}
		if !afterStatus.Spec.LookupPolicy.Local {
			t.Error("status update changed the spec")
		}
		if len(afterStatus.Status.Tags) != 1 || afterStatus.Status.Tags[0].Items[0].Generation != afterStatus.Generation {
			t.Errorf("status tags after status update = %+v, want one head with the stream generation %d", afterStatus.Status.Tags, afterStatus.Generation)
		}

		viaMain := afterStatus.DeepCopy()
		viaMain.Status.Tags = nil
		viaMain.Labels = map[string]string{"via": "main"}
		afterMain, err := update(ctx, streams, viaMain)
		if err != nil {
			t.Fatalf("main update: %v", err)
		}
		if diff := cmp.Diff(afterStatus.Status, afterMain.Status); diff != "" {
			t.Errorf("main endpoint changed status (-before +after):\n%s", diff)
		}
		if afterMain.Generation != afterStatus.Generation {
			t.Errorf("a labels-only update changed the generation from %d to %d", afterStatus.Generation, afterMain.Generation)
		}
	})
}

// TestDelete deletes a stream and checks it is gone, and that a second delete is a 404.
func TestDelete(t *testing.T) {
	streams, _, _ := newStorage(t, hostnames)
	ctx := nsContext("ns")
	createStream(t, streams, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns"}})
	obj, immediate, err := streams.Delete(ctx, "app", rest.ValidateAllObjectFunc, &metav1.DeleteOptions{})
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	// Without ReturnDeletedObject the store answers a Success status, deleted at once (no
	// finalizers, no graceful deletion for streams).
	if status, ok := obj.(*metav1.Status); !immediate || !ok || status.Status != metav1.StatusSuccess {
		t.Errorf("delete returned %T %+v, immediate %v; want Status Success, immediate", obj, obj, immediate)
	}
	if _, err := streams.Get(ctx, "app", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: error = %v, want NotFound", err)
	}
	if _, _, err := streams.Delete(ctx, "app", rest.ValidateAllObjectFunc, &metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("second delete: error = %v, want NotFound", err)
	}
}

func nextEvent(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed")
		}
		return ev
	case <-time.After(wait.ForeverTestTimeout):
		t.Fatal("no watch event")
	}
	return watch.Event{}
}

// TestWatch watches from a resourceVersion and sees the stream's later updates and its deletion,
// decorated like reads.
func TestWatch(t *testing.T) {
	streams, _, _ := newStorage(t, hostnames)
	ctx := nsContext("ns")
	created := createStream(t, streams, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns"}})

	w, err := streams.Watch(ctx, &metainternalversion.ListOptions{ResourceVersion: created.ResourceVersion})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()

	changed := created.DeepCopy()
	changed.Spec.LookupPolicy.Local = true
	updated, err := update(ctx, streams, changed)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if _, _, err := streams.Delete(ctx, "app", rest.ValidateAllObjectFunc, &metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}

	ev := nextEvent(t, w)
	got, ok := ev.Object.(*imagev1.ImageStream)
	if ev.Type != watch.Modified || !ok {
		t.Fatalf("first event = %s %T, want MODIFIED ImageStream", ev.Type, ev.Object)
	}
	if got.ResourceVersion != updated.ResourceVersion || got.Generation != 2 || !got.Spec.LookupPolicy.Local {
		t.Errorf("MODIFIED event: resourceVersion %s generation %d local %v; want %s, 2, true", got.ResourceVersion, got.Generation, got.Spec.LookupPolicy.Local, updated.ResourceVersion)
	}
	if got.Status.PublicDockerImageRepository != publicHost+"/ns/app" {
		t.Errorf("watched object is not decorated: public repository %q", got.Status.PublicDockerImageRepository)
	}
	if ev := nextEvent(t, w); ev.Type != watch.Deleted {
		t.Errorf("second event = %s, want DELETED", ev.Type)
	}
}

// TestWatchFilters proves label and field filtering without waiting for silence: it writes a
// stream that does not match and then one that does, and the first event must be the second.
func TestWatchFilters(t *testing.T) {
	streams, _, _ := newStorage(t, hostnames)
	ctx := nsContext("ns")
	start := createStream(t, streams, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "start", Namespace: "ns"}})

	tests := []struct {
		name      string
		label     labels.Selector
		field     fields.Selector
		miss, hit *imagev1.ImageStream
	}{
		{
			name:  "label",
			label: labels.SelectorFromSet(labels.Set{"app": "x"}),
			field: fields.Everything(),
			miss:  &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "label-miss", Namespace: "ns", Labels: map[string]string{"app": "y"}}},
			hit:   &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "label-hit", Namespace: "ns", Labels: map[string]string{"app": "x"}}},
		},
		{
			name:  "field",
			label: labels.Everything(),
			field: fields.OneTermEqualSelector("spec.dockerImageRepository", "quay.io/a/hit"),
			miss:  &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "field-miss", Namespace: "ns"}, Spec: imagev1.ImageStreamSpec{DockerImageRepository: "quay.io/a/miss"}},
			hit:   &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "field-hit", Namespace: "ns"}, Spec: imagev1.ImageStreamSpec{DockerImageRepository: "quay.io/a/hit"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := streams.Watch(ctx, &metainternalversion.ListOptions{LabelSelector: tc.label, FieldSelector: tc.field, ResourceVersion: start.ResourceVersion})
			if err != nil {
				t.Fatalf("watch: %v", err)
			}
			defer w.Stop()
			createStream(t, streams, tc.miss)
			createStream(t, streams, tc.hit)
			ev := nextEvent(t, w)
			if got := ev.Object.(*imagev1.ImageStream).Name; ev.Type != watch.Added || got != tc.hit.Name {
				t.Errorf("first event = %s %s, want ADDED %s", ev.Type, got, tc.hit.Name)
			}
		})
	}
}

// TestDecoratorFollowsHostnames: repositories are recomputed on read, so a server restarted with
// another registry hostname shows it at once although etcd holds the old value.
func TestDecoratorFollowsHostnames(t *testing.T) {
	storage := registrytest.NewStorage(t)
	ctx := nsContext("ns")
	before, _, err := imagestream.NewREST(apiserver.Scheme, storage, hostnames)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(before.Destroy)
	createStream(t, before, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns"}})

	after, _, err := imagestream.NewREST(apiserver.Scheme, storage, imagestream.RegistryHostnames{Internal: "new-registry:5000"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(after.Destroy)
	obj, err := after.Get(ctx, "app", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := obj.(*imagev1.ImageStream).Status
	if got.DockerImageRepository != "new-registry:5000/ns/app" || got.PublicDockerImageRepository != "" {
		t.Errorf("status repositories = %q, %q; want new-registry:5000/ns/app and none", got.DockerImageRepository, got.PublicDockerImageRepository)
	}
}

// TestStoredAsProtobuf reads the raw etcd value: streams are stored as protobuf
// image.openshift.io/v1 under /registry/image.openshift.io/imagestreams/<ns>/<name> (the
// group written once).
func TestStoredAsProtobuf(t *testing.T) {
	streams, _, storage := newStorage(t, hostnames)
	createStream(t, streams, validImageStream())

	// The key layout is the server's: /registry/image.openshift.io/imagestreams/<ns>/<name>.
	obj, gvk := storage.ReadStored(t, "image.openshift.io/imagestreams/test/foo")
	if want := (schema.GroupVersionKind{Group: "image.openshift.io", Version: "v1", Kind: "ImageStream"}); gvk != want {
		t.Errorf("stored as %v, want %v", gvk, want)
	}
	if stored := obj.(*imagev1.ImageStream); stored.Name != "foo" || len(stored.Spec.Tags) != 1 {
		t.Errorf("stored object = %s with %d tags", stored.Name, len(stored.Spec.Tags))
	}
}
