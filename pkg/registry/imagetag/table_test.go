package imagetag

import (
	"fmt"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestCells(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	hourAgo := metav1.NewTime(now.Add(-time.Hour))
	from := func(kind, name string) *imagev1.TagReference {
		return &imagev1.TagReference{From: &corev1.ObjectReference{Kind: kind, Name: name}, Generation: ptr.To[int64](2)}
	}
	history := func(gen int64, image, ref string) *imagev1.NamedTagEventList {
		return &imagev1.NamedTagEventList{Items: []imagev1.TagEvent{{Created: hourAgo, Generation: gen, Image: image, DockerImageReference: ref}}}
	}
	for _, tc := range []struct {
		name string
		itag imagev1.ImageTag
		want string
	}{
		{"pushed only", imagev1.ImageTag{Status: history(1, "sha256:1", "r@sha256:1")}, "[x Push image/sha256:1 1 About an hour ago]"},
		{"tag of a registry image", imagev1.ImageTag{Spec: from("DockerImage", "quay.io/a:1"), Status: history(2, "sha256:1", "quay.io/a@sha256:1")}, "[x Tag image/sha256:1 1 About an hour ago]"},
		{"reference", imagev1.ImageTag{Spec: func() *imagev1.TagReference { r := from("DockerImage", "quay.io/a:1"); r.Reference = true; return r }()}, "[x Ref quay.io/a:1 <nil> ]"},
		{"scheduled", imagev1.ImageTag{Spec: func() *imagev1.TagReference {
			r := from("DockerImage", "quay.io/a:1")
			r.ImportPolicy.Scheduled = true
			return r
		}()}, "[x Scheduled quay.io/a:1 <nil> ]"},
		{"importing", imagev1.ImageTag{Spec: from("DockerImage", "quay.io/a:2"), Status: history(1, "sha256:1", "quay.io/a@sha256:1")}, "[x Tag Importing 1 About an hour ago]"},
		{"pushed after the spec", imagev1.ImageTag{Spec: from("DockerImage", "quay.io/a:2"), Status: history(3, "sha256:3", "r@sha256:3")}, "[x Push image/sha256:3 1 About an hour ago]"},
		{"tracks a tag of its stream", imagev1.ImageTag{Spec: from("ImageStreamTag", "latest")}, "[x Track istag/latest <nil> ]"},
		{"follows another stream's tag", imagev1.ImageTag{Spec: func() *imagev1.TagReference {
			r := from("ImageStreamTag", "app:v1")
			r.From.Namespace = "other"
			return r
		}()}, "[x Tag istag other/app:v1 <nil> ]"},
		{"image of a stream", imagev1.ImageTag{Spec: from("ImageStreamImage", "app@sha256:1")}, "[x Tag image/sha256:1 <nil> ]"},
		{"image without a stream", imagev1.ImageTag{Spec: from("ImageStreamImage", "sha256:1")}, "[x Tag InvalidRefName <nil> ]"},
		{"bad kind", imagev1.ImageTag{Spec: from("Pod", "x")}, "[x Tag InvalidRefKind <nil> ]"},
		{"failed import", imagev1.ImageTag{Spec: from("DockerImage", "quay.io/a:1"), Status: &imagev1.NamedTagEventList{Conditions: []imagev1.TagEventCondition{
			{Type: imagev1.ImportSuccess, Status: corev1.ConditionFalse, Reason: "NotFound", LastTransitionTime: hourAgo},
		}}}, "[x Tag ImportFailed (NotFound) <nil> About an hour ago]"},
	} {
		if got := fmt.Sprint(cells(&tc.itag, "x", now)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
