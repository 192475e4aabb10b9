// Package txntest holds the conformance suite every txn.Interface implementation passes, and
// Fake, an in-memory implementation for unit tests of callers such as the ImageStreamMapping
// REST handler. It mirrors k8s.io/apiserver's storage/testing, whose suite runs against both
// etcd3 and the cacher.
package txntest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
)

// Store is the part of a genericregistry.Store the suite uses to prove that Commit writes
// what the Store reads and the other way round.
type Store interface {
	rest.Creater
	rest.Getter
	rest.Lister
}

// Fixtures are what an implementation under test shares with the suite.
type Fixtures struct {
	// Images is the cluster-scoped images resource (*imagev1.Image).
	Images *txn.Resource
	// ImageStreams is the namespaced imagestreams resource (*imagev1.ImageStream).
	ImageStreams *txn.Resource
	// ImageStore and ImageStreamStore are the generic registry stores over the same storage
	// as the implementation. Reads through them must not change the suite's objects: the
	// imagestreams decorator must run with empty registry hostnames. Implementations without
	// such stores (the fake) leave them nil, which skips the compatibility cases.
	ImageStore, ImageStreamStore Store
}

// RunConformance runs the shared suite. newImpl is called once per case and must return an
// implementation over empty storage (or at least one without the suite's objects).
func RunConformance(t *testing.T, newImpl func(t *testing.T) (txn.Interface, Fixtures)) {
	tests := []struct {
		name        string
		needsStores bool
		run         func(t *testing.T, s *suite)
	}{
		{name: "create two keys in one commit", run: testCreateTwo},
		{name: "guard by revision", run: testGuardByRevision},
		{name: "failed compare writes nothing", run: testFailedCompareWritesNothing},
		{name: "conflict carries fresh state", run: testConflictState},
		{name: "assert-only ops", run: testAssertOnly},
		{name: "not found", run: testNotFound},
		{name: "request too large", run: testTooLarge},
		{name: "invalid ops", run: testInvalidOps},
		{name: "concurrent creates", run: testConcurrentCreates},
		{name: "commit is readable through the store", needsStores: true, run: testStoreReadsCommit},
		{name: "store writes are readable through get", needsStores: true, run: testGetReadsStore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			impl, fx := newImpl(t)
			if tc.needsStores && (fx.ImageStore == nil || fx.ImageStreamStore == nil) {
				t.Skip("the implementation has no generic registry stores")
			}
			tc.run(t, &suite{impl: impl, fx: fx, ctx: t.Context()})
		})
	}
}

type suite struct {
	impl txn.Interface
	fx   Fixtures
	ctx  context.Context
}

const namespace = "txntest"

// NewImage returns a valid Image whose digest name derives from seed.
func NewImage(seed string) *imagev1.Image {
	sum := sha256.Sum256([]byte(seed))
	digest := "sha256:" + hex.EncodeToString(sum[:])
	return &imagev1.Image{
		ObjectMeta:           metav1.ObjectMeta{Name: digest, Labels: map[string]string{"seed": seed}},
		DockerImageReference: "registry.example.com/txntest/" + seed + "@" + digest,
	}
}

// NewImageStream returns a stream whose status has one tag event per image, newest first,
// as a mapping writes it. It uses no field the storage codec defaults, so it reads back
// unchanged.
func NewImageStream(ns, name string, images ...*imagev1.Image) *imagev1.ImageStream {
	stream := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": name}},
	}
	if len(images) > 0 {
		tag := imagev1.NamedTagEventList{Tag: "latest"}
		for i := len(images) - 1; i >= 0; i-- {
			tag.Items = append(tag.Items, imagev1.TagEvent{
				Created:              metav1.Unix(1700000000+int64(i), 0),
				DockerImageReference: images[i].DockerImageReference,
				Image:                images[i].Name,
				Generation:           1,
			})
		}
		stream.Status.Tags = []imagev1.NamedTagEventList{tag}
	}
	return stream
}

func (s *suite) imageOp(img *imagev1.Image, rev int64) txn.Op {
	return txn.Op{Resource: s.fx.Images, Name: img.Name, Obj: img, Revision: rev}
}

func (s *suite) streamOp(stream *imagev1.ImageStream, rev int64) txn.Op {
	return txn.Op{Resource: s.fx.ImageStreams, Namespace: stream.Namespace, Name: stream.Name, Obj: stream, Revision: rev}
}

func (s *suite) commit(t *testing.T, ops ...txn.Op) int64 {
	t.Helper()
	rev, err := s.impl.Commit(s.ctx, ops...)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if rev <= 0 {
		t.Fatalf("Commit returned revision %d", rev)
	}
	return rev
}

func (s *suite) conflict(t *testing.T, ops ...txn.Op) *txn.ConflictError {
	t.Helper()
	_, err := s.impl.Commit(s.ctx, ops...)
	var conflict *txn.ConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("Commit: want *txn.ConflictError, got %T: %v", err, err)
	}
	if !apierrors.IsConflict(err) {
		t.Errorf("Commit: apierrors.IsConflict is false for %v", err)
	}
	return conflict
}

func (s *suite) getImage(t *testing.T, name string) (*imagev1.Image, int64) {
	t.Helper()
	img := &imagev1.Image{}
	rev, err := s.impl.Get(s.ctx, s.fx.Images, "", name, img)
	if err != nil {
		t.Fatalf("Get image %q: %v", name, err)
	}
	return img, rev
}

func (s *suite) getStream(t *testing.T, ns, name string) (*imagev1.ImageStream, int64) {
	t.Helper()
	stream := &imagev1.ImageStream{}
	rev, err := s.impl.Get(s.ctx, s.fx.ImageStreams, ns, name, stream)
	if err != nil {
		t.Fatalf("Get imagestream %s/%s: %v", ns, name, err)
	}
	return stream, rev
}

func (s *suite) wantAbsent(t *testing.T, r *txn.Resource, ns, name string) {
	t.Helper()
	_, err := s.impl.Get(s.ctx, r, ns, name, r.New())
	if !apierrors.IsNotFound(err) {
		t.Errorf("Get %s %s/%s: want NotFound, got %v", r.GroupResource(), ns, name, err)
	}
}

// wantObject compares an object read back with the one written, and its revision. TypeMeta
// is ignored: decoding sets it, callers' objects need not carry it.
func wantObject(t *testing.T, what string, got, want runtime.Object, gotRev, wantRev int64) {
	t.Helper()
	if gotRev != wantRev {
		t.Errorf("%s: revision %d, want %d", what, gotRev, wantRev)
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreTypes(metav1.TypeMeta{})); diff != "" {
		t.Errorf("%s: read back differs (-written +read):\n%s", what, diff)
	}
}

func rvOf(t *testing.T, obj metav1.Object) int64 {
	t.Helper()
	rv, err := strconv.ParseInt(obj.GetResourceVersion(), 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q of %s: %v", obj.GetResourceVersion(), obj.GetName(), err)
	}
	return rv
}

func testCreateTwo(t *testing.T, s *suite) {
	img := NewImage("create-two")
	stream := NewImageStream(namespace, "create-two", img)
	rev := s.commit(t, s.imageOp(img, 0), s.streamOp(stream, 0))

	for _, obj := range []metav1.Object{img, stream} {
		if got := rvOf(t, obj); got != rev {
			t.Errorf("%s: resourceVersion %d after Commit, want the commit revision %d", obj.GetName(), got, rev)
		}
	}
	gotImg, imgRev := s.getImage(t, img.Name)
	wantObject(t, "image", gotImg, img, imgRev, rev)
	gotStream, streamRev := s.getStream(t, namespace, stream.Name)
	wantObject(t, "imagestream", gotStream, stream, streamRev, rev)
}

func testGuardByRevision(t *testing.T, s *suite) {
	stream := NewImageStream(namespace, "guarded")
	created := s.commit(t, s.streamOp(stream, 0))
	current := created

	// Steps run in order against one stream; each names the revision it expects the key
	// to have and whether that is stale.
	steps := []struct {
		name         string
		revision     func() int64
		wantConflict bool
	}{
		{name: "current revision", revision: func() int64 { return current }},
		{name: "stale revision", revision: func() int64 { return created }, wantConflict: true},
		{name: "must not exist but does", revision: func() int64 { return 0 }, wantConflict: true},
		{name: "current revision again", revision: func() int64 { return current }},
	}
	for i, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			update := stream.DeepCopy()
			update.Labels["step"] = strconv.Itoa(i)
			update.ResourceVersion = "1234"
			op := s.streamOp(update, step.revision())
			if !step.wantConflict {
				rev := s.commit(t, op)
				if rev <= current {
					t.Errorf("commit revision %d, want > %d", rev, current)
				}
				current = rev
				got, gotRev := s.getStream(t, namespace, stream.Name)
				wantObject(t, "updated stream", got, update, gotRev, rev)
				return
			}
			before, beforeRev := s.getStream(t, namespace, stream.Name)
			c := s.conflict(t, op)
			if update.ResourceVersion != "1234" {
				t.Errorf("failed Commit changed the object's resourceVersion to %q", update.ResourceVersion)
			}
			if len(c.Conflicts) != 1 || c.Conflicts[0].Revision != current {
				t.Errorf("conflicts %+v, want one at revision %d", c.Conflicts, current)
			}
			after, afterRev := s.getStream(t, namespace, stream.Name)
			wantObject(t, "stream after conflict", after, before, afterRev, beforeRev)
		})
	}

	t.Run("must exist but does not", func(t *testing.T) {
		missing := NewImageStream(namespace, "never-created")
		c := s.conflict(t, s.streamOp(missing, current))
		if len(c.Conflicts) != 1 || c.Conflicts[0].Revision != 0 || c.Conflicts[0].Object != nil {
			t.Errorf("conflicts %+v, want one with revision 0 and no object", c.Conflicts)
		}
		s.wantAbsent(t, s.fx.ImageStreams, namespace, missing.Name)
	})
}

func testFailedCompareWritesNothing(t *testing.T, s *suite) {
	existingImg := NewImage("exists")
	existingStream := NewImageStream(namespace, "exists")
	seeded := s.commit(t, s.imageOp(existingImg, 0), s.streamOp(existingStream, 0))

	tests := []struct {
		name        string
		img         *imagev1.Image
		staleStream bool
		imgExists   bool
	}{
		{name: "new image, stale stream", img: NewImage("new-with-stale-stream"), staleStream: true},
		{name: "existing image created again, current stream", img: existingImg, imgExists: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			streamRev := seeded
			if tc.staleStream {
				streamRev = seeded + 100 // never a revision of this key
			}
			img := tc.img.DeepCopy()
			img.Labels["attempt"] = tc.name
			stream := existingStream.DeepCopy()
			stream.Labels["attempt"] = tc.name
			s.conflict(t, s.imageOp(img, 0), s.streamOp(stream, streamRev))

			got, rev := s.getStream(t, namespace, existingStream.Name)
			wantObject(t, "stream", got, existingStream, rev, seeded)
			if !tc.imgExists {
				s.wantAbsent(t, s.fx.Images, "", img.Name)
				return
			}
			gotImg, imgRev := s.getImage(t, img.Name)
			wantObject(t, "image", gotImg, existingImg, imgRev, seeded)
		})
	}
}

func testConflictState(t *testing.T, s *suite) {
	img := NewImage("fresh")
	imgRev := s.commit(t, s.imageOp(img, 0))
	stream := NewImageStream(namespace, "fresh")
	staleRev := s.commit(t, s.streamOp(stream, 0))
	moved := stream.DeepCopy()
	moved.Labels["moved"] = "true"
	currentRev := s.commit(t, s.streamOp(moved, staleRev))

	untouched := NewImage("untouched")
	c := s.conflict(t,
		s.imageOp(img.DeepCopy(), 0),                             // exists
		s.streamOp(NewImageStream(namespace, "fresh"), staleRev), // moved on
		txn.Op{Resource: s.fx.Images, Name: untouched.Name},      // absent, as asserted
		s.streamOp(NewImageStream(namespace, "fresh-other"), 0),  // absent, as expected
	)

	var status *apierrors.StatusError
	if !errors.As(c, &status) {
		t.Fatalf("ConflictError does not unwrap to *apierrors.StatusError")
	}
	details := c.Status().Details
	if details == nil || details.Name != img.Name || details.Kind != "images" || details.Group != "image.openshift.io" {
		t.Errorf("details %+v, want the first failed op (images %q)", details, img.Name)
	}
	if len(c.Conflicts) != 2 {
		t.Fatalf("conflicts %+v, want ops 0 and 1", c.Conflicts)
	}

	imgConflict, ok := c.ForOp(0)
	if !ok {
		t.Fatalf("no conflict for op 0")
	}
	wantObject(t, "fresh image", imgConflict.Object, img, imgConflict.Revision, imgRev)

	streamConflict, ok := c.ForOp(1)
	if !ok {
		t.Fatalf("no conflict for op 1")
	}
	wantObject(t, "fresh stream", streamConflict.Object, moved, streamConflict.Revision, currentRev)
	if streamConflict.Op.Revision != staleRev || streamConflict.Op.Name != stream.Name {
		t.Errorf("conflict op %+v, want the stream op at revision %d", streamConflict.Op, staleRev)
	}
	for _, i := range []int{2, 3} {
		if _, ok := c.ForOp(i); ok {
			t.Errorf("op %d matched its revision but is reported as a conflict", i)
		}
	}
	s.wantAbsent(t, s.fx.ImageStreams, namespace, "fresh-other")
}

func testConcurrentCreates(t *testing.T, s *suite) {
	const writers = 8
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			img := NewImage("race")
			img.Labels["writer"] = strconv.Itoa(i)
			_, err := s.impl.Commit(s.ctx, s.imageOp(img, 0))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !apierrors.IsConflict(err):
			t.Errorf("Commit: want success or conflict, got %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent creates of one key succeeded, want 1", won, writers)
	}
}

func testAssertOnly(t *testing.T, s *suite) {
	tests := []struct {
		name         string
		exists       bool
		assert       func(existingRev int64) int64
		wantConflict bool
	}{
		{name: "absent as asserted", assert: func(int64) int64 { return 0 }},
		{name: "present at asserted revision", exists: true, assert: func(rev int64) int64 { return rev }},
		{name: "asserted absent but present", exists: true, assert: func(int64) int64 { return 0 }, wantConflict: true},
		{name: "present at another revision", exists: true, assert: func(rev int64) int64 { return rev + 100 }, wantConflict: true},
		{name: "asserted present but absent", assert: func(int64) int64 { return 1 }, wantConflict: true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := NewImage("assert-" + strconv.Itoa(i))
			var imgRev int64
			if tc.exists {
				imgRev = s.commit(t, s.imageOp(img, 0))
			}
			assert := txn.Op{Resource: s.fx.Images, Name: img.Name, Revision: tc.assert(imgRev)}
			stream := NewImageStream(namespace, "assert-"+strconv.Itoa(i), img)

			if tc.wantConflict {
				c := s.conflict(t, assert, s.streamOp(stream, 0))
				if got, ok := c.ForOp(0); !ok || got.Revision != imgRev {
					t.Errorf("conflict for the assertion %+v, want current revision %d", got, imgRev)
				}
				s.wantAbsent(t, s.fx.ImageStreams, namespace, stream.Name)
			} else {
				rev := s.commit(t, assert, s.streamOp(stream, 0))
				got, gotRev := s.getStream(t, namespace, stream.Name)
				wantObject(t, "stream", got, stream, gotRev, rev)
			}
			if !tc.exists {
				s.wantAbsent(t, s.fx.Images, "", img.Name)
				return
			}
			if _, rev := s.getImage(t, img.Name); rev != imgRev {
				t.Errorf("asserted image moved from revision %d to %d", imgRev, rev)
			}
		})
	}

	t.Run("only assertions", func(t *testing.T) {
		img := NewImage("assert-only")
		imgRev := s.commit(t, s.imageOp(img, 0))
		rev := s.commit(t, txn.Op{Resource: s.fx.Images, Name: img.Name, Revision: imgRev})
		if rev < imgRev {
			t.Errorf("assert-only commit revision %d, want >= %d", rev, imgRev)
		}
		if _, got := s.getImage(t, img.Name); got != imgRev {
			t.Errorf("asserted image moved from revision %d to %d", imgRev, got)
		}
	})
}

func testNotFound(t *testing.T, s *suite) {
	tests := []struct {
		name     string
		resource *txn.Resource
		ns       string
		objName  string
		wantKind string
	}{
		{name: "image", resource: s.fx.Images, objName: NewImage("missing").Name, wantKind: "images"},
		{name: "imagestream", resource: s.fx.ImageStreams, ns: namespace, objName: "missing", wantKind: "imagestreams"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			into := tc.resource.New()
			_, err := s.impl.Get(s.ctx, tc.resource, tc.ns, tc.objName, into)
			if !apierrors.IsNotFound(err) {
				t.Fatalf("Get: want NotFound, got %v", err)
			}
			var status apierrors.APIStatus
			if !errors.As(err, &status) {
				t.Fatalf("Get: %T is not an API status", err)
			}
			d := status.Status().Details
			if d == nil || d.Name != tc.objName || d.Kind != tc.wantKind || d.Group != "image.openshift.io" {
				t.Errorf("details %+v, want name %q kind %q group image.openshift.io", d, tc.objName, tc.wantKind)
			}
		})
	}
}

func testTooLarge(t *testing.T, s *suite) {
	img := NewImage("too-large")
	stream := NewImageStream(namespace, "too-large", img)
	stream.Annotations = map[string]string{"big": strings.Repeat("x", txn.DefaultMaxRequestBytes)}
	_, err := s.impl.Commit(s.ctx, s.imageOp(img, 0), s.streamOp(stream, 0))
	if !apierrors.IsRequestEntityTooLargeError(err) {
		t.Fatalf("Commit: want 413, got %v", err)
	}
	if !strings.Contains(err.Error(), "imagestreams.image.openshift.io "+namespace+"/too-large") {
		t.Errorf("message %q does not name the stream", err.Error())
	}
	s.wantAbsent(t, s.fx.Images, "", img.Name)
	s.wantAbsent(t, s.fx.ImageStreams, namespace, stream.Name)
}

func testInvalidOps(t *testing.T, s *suite) {
	img := NewImage("invalid-ops")
	valid := s.imageOp(img, 0)
	stream := NewImageStream(namespace, "invalid-ops")
	tests := []struct {
		name string
		op   txn.Op
		// want says why the op is refused: 400 for what a client could have sent, 500 for
		// programming errors of the caller.
		want func(error) bool
	}{
		{name: "no resource", op: txn.Op{Name: "x", Obj: stream}, want: apierrors.IsInternalError},
		{name: "negative revision", op: txn.Op{Resource: s.fx.ImageStreams, Namespace: namespace, Name: stream.Name, Obj: stream, Revision: -1}, want: apierrors.IsInternalError},
		{name: "name differs from object", op: txn.Op{Resource: s.fx.ImageStreams, Namespace: namespace, Name: "other", Obj: stream}, want: apierrors.IsInternalError},
		{name: "namespace differs from object", op: txn.Op{Resource: s.fx.ImageStreams, Namespace: "other", Name: stream.Name, Obj: stream}, want: apierrors.IsInternalError},
		{name: "missing namespace", op: txn.Op{Resource: s.fx.ImageStreams, Name: stream.Name, Obj: stream}, want: apierrors.IsBadRequest},
		{name: "namespace on a cluster-scoped resource", op: txn.Op{Resource: s.fx.Images, Namespace: namespace, Name: "sha256:x"}, want: apierrors.IsBadRequest},
		{name: "wrong type", op: txn.Op{Resource: s.fx.Images, Name: stream.Name, Obj: NewImageStream("", stream.Name)}, want: apierrors.IsInternalError},
		{name: "invalid name", op: txn.Op{Resource: s.fx.ImageStreams, Namespace: namespace, Name: "a/b"}, want: apierrors.IsBadRequest},
		{name: "same key twice", op: txn.Op{Resource: s.fx.Images, Name: img.Name}, want: apierrors.IsInternalError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.impl.Commit(s.ctx, valid, tc.op)
			if !tc.want(err) {
				t.Fatalf("Commit: got %v", err)
			}
			s.wantAbsent(t, s.fx.Images, "", img.Name)
		})
	}
	t.Run("no ops", func(t *testing.T) {
		if _, err := s.impl.Commit(s.ctx); err == nil {
			t.Errorf("Commit without ops succeeded")
		}
	})
}

// storeCtx is a request context as the handlers build it: cluster-scoped requests carry
// the empty namespace.
func storeCtx(ns string) context.Context {
	return genericapirequest.WithNamespace(genericapirequest.NewContext(), ns)
}

func testStoreReadsCommit(t *testing.T, s *suite) {
	img := NewImage("store-reads")
	stream := NewImageStream(namespace, "store-reads", img)
	rev := s.commit(t, s.imageOp(img, 0), s.streamOp(stream, 0))
	update := stream.DeepCopy()
	update.Labels["updated"] = "true"
	updateRev := s.commit(t, s.streamOp(update, rev))

	tests := []struct {
		name  string
		store Store
		ns    string
		want  runtime.Object
		rev   int64
	}{
		{name: "image", store: s.fx.ImageStore, want: img, rev: rev},
		{name: "imagestream", store: s.fx.ImageStreamStore, ns: namespace, want: update, rev: updateRev},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := storeCtx(tc.ns)
			name := tc.want.(metav1.Object).GetName()
			got, err := tc.store.Get(ctx, name, &metav1.GetOptions{})
			if err != nil {
				t.Fatalf("store Get: %v", err)
			}
			wantObject(t, "store Get", got, tc.want, rvOf(t, got.(metav1.Object)), tc.rev)

			list, err := tc.store.List(ctx, &metainternalversion.ListOptions{})
			if err != nil {
				t.Fatalf("store List: %v", err)
			}
			items, err := meta.ExtractList(list)
			if err != nil {
				t.Fatalf("store List: %v", err)
			}
			found := false
			for _, item := range items {
				if item.(metav1.Object).GetName() == name {
					found = true
					wantObject(t, "store List", item, tc.want, rvOf(t, item.(metav1.Object)), tc.rev)
				}
			}
			if !found {
				t.Errorf("store List lacks %q", name)
			}
		})
	}
}

func testGetReadsStore(t *testing.T, s *suite) {
	img := NewImage("get-reads")
	stream := NewImageStream(namespace, "get-reads")
	tests := []struct {
		name     string
		store    Store
		resource *txn.Resource
		ns       string
		obj      runtime.Object
	}{
		{name: "image", store: s.fx.ImageStore, resource: s.fx.Images, obj: img},
		{name: "imagestream", store: s.fx.ImageStreamStore, resource: s.fx.ImageStreams, ns: namespace, obj: stream},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			created, err := tc.store.Create(storeCtx(tc.ns), tc.obj, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("store Create: %v", err)
			}
			m := created.(metav1.Object)
			got := tc.resource.New()
			rev, err := s.impl.Get(s.ctx, tc.resource, tc.ns, m.GetName(), got)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			wantObject(t, "Get", got, created, rev, rvOf(t, m))

			// The revision Get returns guards a Commit that the store then reads.
			update := got.DeepCopyObject()
			update.(metav1.Object).SetLabels(map[string]string{"committed": "true"})
			op := txn.Op{Resource: tc.resource, Namespace: tc.ns, Name: m.GetName(), Obj: update, Revision: rev}
			commitRev := s.commit(t, op)
			read, err := tc.store.Get(storeCtx(tc.ns), m.GetName(), &metav1.GetOptions{})
			if err != nil {
				t.Fatalf("store Get: %v", err)
			}
			wantObject(t, "store Get after Commit", read, update, rvOf(t, read.(metav1.Object)), commitRev)
		})
	}
}
