package streamwriter_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/panics"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/streamwriter"
	"github.com/image-apiserver/image-apiserver/pkg/registry/registrytest"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn/txntest"
)

func digest(n int) string { return fmt.Sprintf("sha256:%064x", n) }

func image(n int) *imagev1.Image {
	return &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: digest(n)}, DockerImageReference: "registry.test/ns/app@" + digest(n)}
}

// tagChange is a mapping in miniature: it makes its image exist and adds a tag event. It can
// also fail, panic, or record the repository it saw.
type tagChange struct {
	tag     string
	image   *imagev1.Image
	err     error
	panics  bool
	sawRepo *string
}

func (c *tagChange) Apply(stream *imagev1.ImageStream, tx *streamwriter.Tx) (bool, error) {
	if c.panics {
		panic("change " + c.tag + " panics")
	}
	if c.err != nil {
		return false, c.err
	}
	if c.sawRepo != nil {
		*c.sawRepo = stream.Status.DockerImageRepository
	}
	tx.EnsureImage(c.image)
	return imageutil.AddTagEventToImageStream(stream, c.tag, imagev1.TagEvent{
		Created: tx.Now, DockerImageReference: c.image.DockerImageReference, Image: c.image.Name, Generation: stream.Generation,
	}), nil
}

func (c *tagChange) String() string { return "the change of tag " + c.tag }

// opSummary is what a test compares of an op: where it writes, its guard, and whether it
// writes or only asserts.
type opSummary struct {
	Resource, Name string
	Revision       int64
	Writes         bool
}

func summarize(ops []txn.Op) []opSummary {
	var out []opSummary
	for _, op := range ops {
		out = append(out, opSummary{op.Resource.GroupResource().Resource, op.Name, op.Revision, op.Obj != nil})
	}
	return out
}

// Plan is a pure function: stream, image knowledge and changes in, transaction out.
func TestPlan(t *testing.T) {
	fx := txntest.FakeFixtures(t)
	now := metav1.Unix(1700000000, 0)
	withHistory := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app", Generation: 1}}
	imageutil.AddTagEventToImageStream(withHistory, "v1", imagev1.TagEvent{Created: now, DockerImageReference: image(1).DockerImageReference, Image: digest(1), Generation: 1})
	own := errors.New("this change is invalid")
	tooBig := apierrors.NewRequestEntityTooLargeError("too big")
	var sawRepo string

	tests := []struct {
		name    string
		stored  *imagev1.ImageStream
		images  map[string]int64
		changes []streamwriter.Change
		finish  func(updated, stored *imagev1.ImageStream) error
		want    []opSummary
		history map[string][]string
		// failed is the index of the change that fails alone; -1 for the batch; unset: none.
		failed  *int
		wantErr func(error) bool
	}{{
		name:    "a new image is created with the stream's write, guarded by the stored revision",
		stored:  withHistory,
		changes: []streamwriter.Change{&tagChange{tag: "v2", image: image(2)}},
		want:    []opSummary{{"imagestreams", "app", 7, true}, {"images", digest(2), 0, true}},
		history: map[string][]string{"v1": {digest(1)}, "v2": {digest(2)}},
	}, {
		name:    "an image known to exist is only asserted, at its revision",
		stored:  withHistory,
		images:  map[string]int64{digest(2): 5},
		changes: []streamwriter.Change{&tagChange{tag: "v1", image: image(2)}},
		want:    []opSummary{{"imagestreams", "app", 7, true}, {"images", digest(2), 5, false}},
		history: map[string][]string{"v1": {digest(2), digest(1)}},
	}, {
		name:    "two changes of one image write it once",
		stored:  withHistory,
		changes: []streamwriter.Change{&tagChange{tag: "a", image: image(3)}, &tagChange{tag: "b", image: image(3)}},
		want:    []opSummary{{"imagestreams", "app", 7, true}, {"images", digest(3), 0, true}},
		history: map[string][]string{"a": {digest(3)}, "b": {digest(3)}, "v1": {digest(1)}},
	}, {
		name:    "a change recorded already writes nothing",
		stored:  withHistory,
		images:  map[string]int64{digest(1): 3},
		changes: []streamwriter.Change{&tagChange{tag: "v1", image: image(1)}},
	}, {
		name:    "the head's image is gone: it is created again and the stream only guarded",
		stored:  withHistory,
		changes: []streamwriter.Change{&tagChange{tag: "v1", image: image(1)}},
		want:    []opSummary{{"imagestreams", "app", 7, false}, {"images", digest(1), 0, true}},
	}, {
		name:    "a change's own error is its own",
		stored:  withHistory,
		changes: []streamwriter.Change{&tagChange{tag: "ok", image: image(4)}, &tagChange{tag: "bad", err: own}},
		failed:  ptr(1),
		wantErr: func(err error) bool { return errors.Is(err, own) },
	}, {
		name:    "a change's panic is its own 500",
		stored:  withHistory,
		changes: []streamwriter.Change{&tagChange{tag: "boom", panics: true}, &tagChange{tag: "ok", image: image(4)}},
		failed:  ptr(0),
		wantErr: panics.Is,
	}, {
		name:    "finishing the stream fails for the batch",
		stored:  withHistory,
		changes: []streamwriter.Change{&tagChange{tag: "ok", image: image(4)}},
		finish:  func(*imagev1.ImageStream, *imagev1.ImageStream) error { return tooBig },
		failed:  ptr(-1),
		wantErr: apierrors.IsRequestEntityTooLargeError,
	}, {
		name:    "a panic while finishing fails the batch as a 500",
		stored:  withHistory,
		changes: []streamwriter.Change{&tagChange{tag: "ok", image: image(4)}},
		finish:  func(*imagev1.ImageStream, *imagev1.ImageStream) error { panic("finish panics") },
		failed:  ptr(-1),
		wantErr: panics.Is,
	}, {
		name:    "changes see the repository as clients do",
		stored:  withHistory,
		changes: []streamwriter.Change{&tagChange{tag: "v3", image: image(5), sawRepo: &sawRepo}},
		want:    []opSummary{{"imagestreams", "app", 7, true}, {"images", digest(5), 0, true}},
		history: map[string][]string{"v1": {digest(1)}, "v3": {digest(5)}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.stored.DeepCopy()
			images := tc.images
			if images == nil {
				images = map[string]int64{}
			}
			finish := tc.finish
			if finish == nil {
				finish = func(*imagev1.ImageStream, *imagev1.ImageStream) error { return nil }
			}
			got, perr := streamwriter.Plan(streamwriter.PlanInput{
				Stored: tc.stored, Revision: 7, Images: images, Changes: tc.changes,
				Streams: fx.ImageStreams, ImageResource: fx.Images,
				Hostnames: imagestream.RegistryHostnames{Internal: "registry.test:5000"},
				Now:       now, Finish: finish,
			})
			if diff := cmp.Diff(before, tc.stored); diff != "" {
				t.Errorf("Plan modified the stored stream (-before +after):\n%s", diff)
			}
			if tc.failed != nil {
				if perr == nil || perr.Index != *tc.failed || !tc.wantErr(perr.Err) {
					t.Fatalf("error %+v, want one at index %d", perr, *tc.failed)
				}
				return
			}
			if perr != nil {
				t.Fatalf("Plan: %v", perr)
			}
			if diff := cmp.Diff(tc.want, summarize(got.Ops)); diff != "" {
				t.Errorf("ops (-want +got):\n%s", diff)
			}
			if tc.history != nil {
				if got.Stream == nil || got.Ops[0].Obj != got.Stream {
					t.Fatalf("the stream to store is not the first op's object")
				}
				for tag, want := range tc.history {
					if diff := cmp.Diff(want, registrytest.History(got.Stream, tag)); diff != "" {
						t.Errorf("history of %s (-want +got):\n%s", tag, diff)
					}
				}
			}
		})
	}
	if sawRepo != "registry.test:5000/ns/app" {
		t.Errorf("a change saw repository %q, want the one clients see", sawRepo)
	}
}

func ptr(i int) *int { return &i }

// trackingChange is a mapping with its tracking tags: the event goes to tag and to every spec
// tag following it.
type trackingChange struct{ tagChange }

func (c *trackingChange) Apply(stream *imagev1.ImageStream, tx *streamwriter.Tx) (bool, error) {
	tx.EnsureImage(c.image)
	next := imagev1.TagEvent{Created: tx.Now, DockerImageReference: c.image.DockerImageReference, Image: c.image.Name, Generation: stream.Generation}
	if !imageutil.AddTagEventToImageStream(stream, c.tag, next) {
		return false, nil
	}
	imageutil.UpdateTrackingTags(stream, c.tag, next)
	return true, nil
}

// D16: the plan trims every tag its batch lengthened past the limit, whichever change did it,
// before Finish sees the stream (so the size limit counts the trimmed stream), and the
// stream's annotation overrides the server's limit.
func TestPlanTrimsTagHistory(t *testing.T) {
	fx := txntest.FakeFixtures(t)
	now := metav1.Unix(1700000000, 0)
	event := func(n int) imagev1.TagEvent {
		return imagev1.TagEvent{Created: now, DockerImageReference: image(n).DockerImageReference, Image: digest(n), Generation: 1}
	}
	// v1 holds images 3, 2, 1; "follower" tracks v1 and holds 3; "other" holds 9, 8, 7.
	stored := func(annotation string) *imagev1.ImageStream {
		s := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app", Generation: 1}}
		if annotation != "" {
			s.Annotations = map[string]string{imagestream.MaxTagHistoryAnnotation: annotation}
		}
		s.Spec.Tags = []imagev1.TagReference{{Name: "follower", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "v1"}}}
		s.Status.Tags = []imagev1.NamedTagEventList{
			{Tag: "follower", Items: []imagev1.TagEvent{event(3)}},
			{Tag: "other", Items: []imagev1.TagEvent{event(9), event(8), event(7)}},
			{Tag: "v1", Items: []imagev1.TagEvent{event(3), event(2), event(1)}},
		}
		return s
	}
	push := func(tag string, n int) streamwriter.Change {
		return &trackingChange{tagChange{tag: tag, image: image(n)}}
	}
	tests := []struct {
		name       string
		annotation string
		limit      int
		changes    []streamwriter.Change
		history    map[string][]string
		dropped    int
	}{{
		name:    "off: history grows",
		changes: []streamwriter.Change{push("v1", 4)},
		history: map[string][]string{"v1": {digest(4), digest(3), digest(2), digest(1)}, "follower": {digest(4), digest(3)}},
	}, {
		name:    "a push past the limit drops the oldest events of the tag and of the tags tracking it",
		limit:   1,
		changes: []streamwriter.Change{push("v1", 4)},
		history: map[string][]string{"v1": {digest(4)}, "follower": {digest(4)}, "other": {digest(9), digest(8), digest(7)}},
		dropped: 4,
	}, {
		name:    "a batch of several pushes to several tags keeps the newest events of each",
		limit:   2,
		changes: []streamwriter.Change{push("v1", 4), push("other", 10), push("v1", 5), push("new", 11), push("new", 12), push("new", 13)},
		history: map[string][]string{
			"v1": {digest(5), digest(4)}, "follower": {digest(5), digest(4)},
			"other": {digest(10), digest(9)}, "new": {digest(13), digest(12)},
		},
		dropped: 3 + 1 + 2 + 1,
	}, {
		name:       "the stream's annotation overrides the server's limit",
		annotation: "3",
		limit:      1,
		changes:    []streamwriter.Change{push("v1", 4)},
		history:    map[string][]string{"v1": {digest(4), digest(3), digest(2)}, "follower": {digest(4), digest(3)}},
		dropped:    1,
	}, {
		name:       "0 on the stream means no limit for it",
		annotation: "0",
		limit:      1,
		changes:    []streamwriter.Change{push("v1", 4)},
		history:    map[string][]string{"v1": {digest(4), digest(3), digest(2), digest(1)}},
	}, {
		name:       "an unreadable annotation is ignored: the server's limit applies",
		annotation: "many",
		limit:      2,
		changes:    []streamwriter.Change{push("v1", 4)},
		history:    map[string][]string{"v1": {digest(4), digest(3)}},
		dropped:    2,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var finished []string
			got, perr := streamwriter.Plan(streamwriter.PlanInput{
				Stored: stored(tc.annotation), Revision: 7, Images: map[string]int64{}, Changes: tc.changes,
				Streams: fx.ImageStreams, ImageResource: fx.Images, Now: now, MaxTagHistory: tc.limit,
				Finish: func(updated, _ *imagev1.ImageStream) error {
					finished = registrytest.History(updated, "v1")
					return nil
				},
			})
			if perr != nil {
				t.Fatalf("Plan: %v", perr)
			}
			for tag, want := range tc.history {
				if diff := cmp.Diff(want, registrytest.History(got.Stream, tag)); diff != "" {
					t.Errorf("history of %s (-want +got):\n%s", tag, diff)
				}
			}
			if diff := cmp.Diff(registrytest.History(got.Stream, "v1"), finished); diff != "" {
				t.Errorf("Finish saw another history of v1 than the one stored (-stored +seen):\n%s", diff)
			}
			if got.Dropped != tc.dropped {
				t.Errorf("dropped %d events, want %d", got.Dropped, tc.dropped)
			}
		})
	}
}
