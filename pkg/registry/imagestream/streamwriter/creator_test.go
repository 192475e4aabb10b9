package streamwriter_test

import (
	"context"
	"strconv"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/streamwriter"
)

// specChange sets a spec tag, as a tag write does; with rv it applies only to that version.
type specChange struct {
	tag, pullSpec, rv string
	creates           bool
}

var _ streamwriter.StreamCreator = &specChange{}

func (c *specChange) Apply(stream *imagev1.ImageStream, tx *streamwriter.Tx) (bool, error) {
	if c.rv != "" && !tx.ResourceVersionIs(c.rv) {
		return false, apierrors.NewConflict(imagev1.Resource("imagestreamtags"), stream.Name+":"+c.tag, nil)
	}
	if imageutil.SpecTag(stream, c.tag) != nil {
		return false, nil
	}
	stream.Spec.Tags = append(stream.Spec.Tags, imagev1.TagReference{
		Name: c.tag, From: &corev1.ObjectReference{Kind: "DockerImage", Name: c.pullSpec}, Reference: true,
		ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy},
	})
	if !tx.Creating() {
		stream.Generation++
	}
	return true, nil
}

func (c *specChange) String() string      { return "the spec change of tag " + c.tag }
func (c *specChange) CreatesStream() bool { return c.creates }

// A change that creates its stream creates it with the create rules (generation 1, the tag's
// status resolved); other changes to a missing stream are 404, and write nothing.
func TestStreamCreatingChanges(t *testing.T) {
	f := newFixture(t)
	if err := f.writer.Write(context.Background(), ns, "absent", &tagChange{tag: "latest", image: image(1)}); !apierrors.IsNotFound(err) {
		t.Errorf("a mapping to a missing stream: %v, want 404", err)
	}
	if f.env.ImageExists(t, digest(1)) {
		t.Error("the 404's image was written")
	}
	stream, err := f.writer.WriteStream(context.Background(), ns, "new", &specChange{tag: "v1", pullSpec: "quay.io/x/y:1", creates: true})
	if err != nil {
		t.Fatal(err)
	}
	stored := f.env.Stream(t, ns, "new")
	if stored.Generation != 1 || stored.UID == "" || len(stored.Spec.Tags) != 1 || *stored.Spec.Tags[0].Generation != 1 ||
		len(stored.Status.Tags) != 1 || stored.Status.Tags[0].Items[0].DockerImageReference != "quay.io/x/y:1" {
		t.Errorf("created stream: %+v", stored)
	}
	if stream.ResourceVersion != stored.ResourceVersion {
		t.Errorf("WriteStream returned resourceVersion %s, stored %s", stream.ResourceVersion, stored.ResourceVersion)
	}
	// The stream exists now: a second creating change is an update with the spec rules.
	if _, err := f.writer.WriteStream(context.Background(), ns, "new", &specChange{tag: "v2", pullSpec: "quay.io/x/y:2", creates: true}); err != nil {
		t.Fatal(err)
	}
	if stored := f.env.Stream(t, ns, "new"); stored.Generation != 2 || len(stored.Spec.Tags) != 2 {
		t.Errorf("after an update: generation %d, %d spec tags", stored.Generation, len(stored.Spec.Tags))
	}
}

// Two changes creating the same stream at once both succeed: the one that finds the stream
// created by the other's transaction applies to it.
func TestConcurrentStreamCreation(t *testing.T) {
	f := newFixture(t)
	held, release := f.holdFirst()
	first := f.writeAsync(context.Background(), "born", &specChange{tag: "a", pullSpec: "quay.io/x/a:1", creates: true})
	<-held
	second := f.writeAsync(context.Background(), "born", &specChange{tag: "b", pullSpec: "quay.io/x/b:1", creates: true})
	f.waitQueued("born", 1)
	release()
	for _, a := range []<-chan error{first, second} {
		if err := <-a; err != nil {
			t.Error(err)
		}
	}
	if stored := f.env.Stream(t, ns, "born"); len(stored.Spec.Tags) != 2 {
		t.Errorf("spec tags %+v, want a and b", stored.Spec.Tags)
	}
}

// A client's resourceVersion holds for the first change of a batch that carries it; a second
// change carrying the same version is a conflict, as it would be had they been committed one
// after the other.
func TestResourceVersionWithinABatch(t *testing.T) {
	f := newFixture(t)
	rv := f.env.Stream(t, ns, "app").ResourceVersion
	held, release := f.holdFirst()
	first := f.writeAsync(context.Background(), "app", &tagChange{tag: "pushed", image: image(1)})
	<-held
	// Queued behind the held transaction, so planned against the stream it writes: both see
	// a newer version than rv.
	stale := f.writeAsync(context.Background(), "app", &specChange{tag: "x", pullSpec: "quay.io/x/x:1", rv: rv})
	f.waitQueued("app", 1)
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-stale; !apierrors.IsConflict(err) {
		t.Errorf("a change at a version overtaken by another: %v, want 409", err)
	}
	current := f.env.Stream(t, ns, "app").ResourceVersion
	a := f.writeAsync(context.Background(), "app", &specChange{tag: "a", pullSpec: "quay.io/x/a:1", rv: current})
	if err := <-a; err != nil {
		t.Errorf("a change at the current version: %v", err)
	}
	if _, err := strconv.ParseInt(current, 10, 64); err != nil {
		t.Fatal(err)
	}
}

// A stream created by another writer while a change was creating it: the change's "must not
// exist" guard fails, and it applies to the stream as created instead.
func TestStreamCreatedMeanwhile(t *testing.T) {
	f := newFixture(t)
	held, release := f.holdFirst()
	change := f.writeAsync(context.Background(), "raced", &specChange{tag: "a", pullSpec: "quay.io/x/a:1", creates: true})
	<-held
	f.env.CreateStream(t, ns, "raced")
	created := f.env.Stream(t, ns, "raced")
	release()
	if err := <-change; err != nil {
		t.Fatal(err)
	}
	stored := f.env.Stream(t, ns, "raced")
	if stored.UID != created.UID || len(stored.Spec.Tags) != 1 || stored.Generation != 2 {
		t.Errorf("stream after the raced creation: uid %s (created %s), %d spec tags, generation %d", stored.UID, created.UID, len(stored.Spec.Tags), stored.Generation)
	}
}
