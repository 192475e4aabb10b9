package imageimport

import (
	"fmt"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestTagsToImport(t *testing.T) {
	docker := func(name string, gen *int64) imagev1.TagReference {
		return imagev1.TagReference{Name: name, From: &corev1.ObjectReference{Kind: "DockerImage", Name: "quay.io/x/" + name}, Generation: gen}
	}
	ref := docker("ref", ptr.To[int64](2))
	ref.Reference = true
	scheduled := docker("sched", ptr.To[int64](1))
	scheduled.ImportPolicy.Scheduled = true
	follows := imagev1.TagReference{Name: "follows", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "new"}, Generation: ptr.To[int64](5)}
	stream := &imagev1.ImageStream{
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
			docker("new", ptr.To[int64](3)),    // no status: needs an import
			docker("done", ptr.To[int64](2)),   // head at generation 2: done
			docker("moved", ptr.To[int64](4)),  // head at 2: spec moved since
			docker("failed", ptr.To[int64](3)), // failed at generation 3: done until it moves
			docker("nogeneration", nil),        // never given a generation: import
			ref, scheduled, follows,
		}},
		Status: imagev1.ImageStreamStatus{Tags: []imagev1.NamedTagEventList{
			{Tag: "done", Items: []imagev1.TagEvent{{Generation: 2}}},
			{Tag: "moved", Items: []imagev1.TagEvent{{Generation: 2}}},
			{Tag: "failed", Conditions: []imagev1.TagEventCondition{{Type: imagev1.ImportSuccess, Status: corev1.ConditionFalse, Generation: 3}}},
			{Tag: "sched", Items: []imagev1.TagEvent{{Generation: 1}}},
		}},
	}
	names := func(tags []imagev1.TagReference) string {
		var out []string
		for _, tag := range tags {
			out = append(out, tag.Name)
		}
		return fmt.Sprint(out)
	}
	if got := names(TagsToImport(stream, false)); got != "[new moved nogeneration]" {
		t.Errorf("changed tags: %s", got)
	}
	if got := names(TagsToImport(stream, true)); got != "[new moved nogeneration sched]" {
		t.Errorf("with the scheduled turn: %s", got)
	}
	if !hasScheduled(stream) {
		t.Error("the scheduled tag was not seen")
	}
}
