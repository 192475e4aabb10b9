package imagestreamimport

import (
	"fmt"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/streamwriter"
)

// outcomesChange applies outcomes as an import's write does.
type outcomesChange []outcome

func (c outcomesChange) Apply(s *imagev1.ImageStream, tx *streamwriter.Tx) (bool, error) {
	return mutate(c, s, tx), nil
}
func (outcomesChange) String() string { return "the import" }

// apply plans outcomes against stored and returns the stream to be written (nil: none).
func apply(t *testing.T, stored *imagev1.ImageStream, outcomes ...outcome) *imagev1.ImageStream {
	t.Helper()
	got, perr := streamwriter.Plan(streamwriter.PlanInput{
		Stored: stored, Revision: 3, Images: map[string]int64{}, Changes: []streamwriter.Change{outcomesChange(outcomes)},
		Now:    metav1.NewTime(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)),
		Finish: func(_, _ *imagev1.ImageStream) error { return nil },
	})
	if perr != nil {
		t.Fatal(perr)
	}
	return got.Stream
}

func success(tag, from, digest string, fromRepository bool) outcome {
	return outcome{
		tag: tag, from: from, fromRepository: fromRepository,
		image: &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: digest}, DockerImageReference: "quay.io/x/app@" + digest},
	}
}

func failure(tag, from, message string, fromRepository bool) outcome {
	return outcome{
		tag: tag, from: from, fromRepository: fromRepository,
		status: metav1.Status{Status: metav1.StatusFailure, Code: 404, Reason: metav1.StatusReasonNotFound, Message: message},
	}
}

func digest(n int) string { return fmt.Sprintf("sha256:%064x", n) }

// TestMutateRepositoryImport: the tags of a repository import and of spec.images land as
// OpenShift records them: spec.images entries after the repository's, so that they win for
// the same tag; a failed tag of the repository gets its condition but no spec tag, while a
// failed tag named in spec.images gets both; a new failure replaces the condition of an older
// one; the stream is marked as imported into.
func TestMutateRepositoryImport(t *testing.T) {
	stored := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app", Generation: 4},
		Spec:       imagev1.ImageStreamSpec{DockerImageRepository: "quay.io/x/app"},
		Status: imagev1.ImageStreamStatus{Tags: []imagev1.NamedTagEventList{{Tag: "old", Conditions: []imagev1.TagEventCondition{{
			Type: imagev1.ImportSuccess, Status: corev1.ConditionFalse, Reason: "InternalError", Message: "earlier", Generation: 2,
		}}}}},
	}
	got := apply(t, stored,
		// The repository's answers, as the import lists them first.
		success("latest", "quay.io/x/app:latest", digest(1), true),
		success("1.0", "quay.io/x/app:1.0", digest(2), true),
		failure("2.0", "quay.io/x/app:2.0", "gone", true),
		failure("old", "quay.io/x/app:old", "gone too", true),
		// spec.images: the same tag 1.0 from elsewhere, and a named tag that failed.
		success("1.0", "quay.io/y/app:1.0", digest(3), false),
		failure("3.0", "quay.io/x/app:3.0", "missing", false),
	)
	if got == nil {
		t.Fatal("nothing written")
	}
	if got.Annotations[imagev1.DockerImageRepositoryCheckAnnotation] != "2025-01-02T03:04:05Z" {
		t.Errorf("annotations %v", got.Annotations)
	}
	specFrom := func(tag string) string {
		if s := imageutil.SpecTag(got, tag); s != nil && s.From != nil {
			return s.From.Name
		}
		return ""
	}
	head := func(tag string) string {
		if e := imageutil.LatestTagEvent(got, tag); e != nil {
			return e.Image
		}
		return ""
	}
	if specFrom("latest") != "quay.io/x/app:latest" || head("latest") != digest(1) {
		t.Errorf("latest: from %q head %q", specFrom("latest"), head("latest"))
	}
	if specFrom("1.0") != "quay.io/y/app:1.0" || head("1.0") != digest(3) {
		t.Errorf("1.0, named in spec.images too: from %q head %q", specFrom("1.0"), head("1.0"))
	}
	if imageutil.SpecTag(got, "2.0") != nil {
		t.Errorf("a failed tag of the repository got a spec tag: %+v", imageutil.SpecTag(got, "2.0"))
	}
	if st := imageutil.StatusTag(got, "2.0"); st == nil || len(st.Conditions) != 1 || st.Conditions[0].Message != "gone" || st.Conditions[0].Generation != 5 {
		t.Errorf("2.0 status %+v", st)
	}
	if st := imageutil.StatusTag(got, "old"); st == nil || len(st.Conditions) != 1 || st.Conditions[0].Message != "gone too" {
		t.Errorf("old: a new failure did not replace the older one: %+v", st)
	}
	if specFrom("3.0") != "quay.io/x/app:3.0" {
		t.Errorf("a failed tag named in spec.images has no spec tag")
	}
	if st := imageutil.StatusTag(got, "3.0"); st == nil || len(st.Conditions) != 1 || st.Conditions[0].Reason != "NotFound" {
		t.Errorf("3.0 status %+v", st)
	}

	// The same answers again change nothing: nothing is written.
	if again := apply(t, got,
		success("latest", "quay.io/x/app:latest", digest(1), true),
		failure("2.0", "quay.io/x/app:2.0", "gone", true),
	); again != nil {
		t.Errorf("an unchanged import wrote the stream: %+v", again.Status)
	}
}
