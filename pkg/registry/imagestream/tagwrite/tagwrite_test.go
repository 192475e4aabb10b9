package tagwrite

import (
	"fmt"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestSplitName(t *testing.T) {
	for _, tc := range []struct {
		name, stream, tag string
		ok                bool
	}{
		{"ruby:latest", "ruby", "latest", true},
		{"ruby:3.3-slim", "ruby", "3.3-slim", true},
		{"ruby", "", "", false},
		{"ruby:", "", "", false},
		{":latest", "", "", false},
		{"ruby:a:b", "", "", false},
		{"", "", "", false},
	} {
		stream, tag, ok := SplitName(tc.name)
		if stream != tc.stream || tag != tc.tag || ok != tc.ok {
			t.Errorf("SplitName(%q) = %q, %q, %v; want %q, %q, %v", tc.name, stream, tag, ok, tc.stream, tc.tag, tc.ok)
		}
	}
}

func dockerTag(name, pullSpec string, generation *int64) imagev1.TagReference {
	return imagev1.TagReference{Name: name, From: &corev1.ObjectReference{Kind: "DockerImage", Name: pullSpec}, Generation: generation}
}

func TestSetSpecTag(t *testing.T) {
	for _, tc := range []struct {
		name        string
		existing    []imagev1.TagReference
		set         imagev1.TagReference
		wantChanged bool
		wantTags    string
		wantGen     *int64
	}{
		{
			name: "new tag is added in name order", existing: []imagev1.TagReference{dockerTag("b", "x/b:1", ptr.To[int64](1))},
			set: dockerTag("a", "x/a:1", nil), wantChanged: true, wantTags: "[a b]",
		},
		{
			name: "same tag without generation keeps its generation and changes nothing", existing: []imagev1.TagReference{dockerTag("a", "x/a:1", ptr.To[int64](3))},
			set: dockerTag("a", "x/a:1", nil), wantChanged: false, wantTags: "[a]", wantGen: ptr.To[int64](3),
		},
		{
			name: "a new source replaces the tag", existing: []imagev1.TagReference{dockerTag("a", "x/a:1", ptr.To[int64](3))},
			set: dockerTag("a", "x/a:2", nil), wantChanged: true, wantTags: "[a]", wantGen: ptr.To[int64](3),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream := &imagev1.ImageStream{Spec: imagev1.ImageStreamSpec{Tags: tc.existing}}
			changed := SetSpecTag(stream, tc.set)
			var names []string
			for _, tag := range stream.Spec.Tags {
				names = append(names, tag.Name)
			}
			if changed != tc.wantChanged || fmt.Sprint(names) != tc.wantTags {
				t.Errorf("changed %v tags %v; want %v %s", changed, names, tc.wantChanged, tc.wantTags)
			}
			if tc.wantGen != nil && *stream.Spec.Tags[0].Generation != *tc.wantGen {
				t.Errorf("generation %d, want %d", *stream.Spec.Tags[0].Generation, *tc.wantGen)
			}
		})
	}
}

func TestDeleteMutation(t *testing.T) {
	resource := imagev1.Resource("imagestreamtags")
	stream := func() *imagev1.ImageStream {
		return &imagev1.ImageStream{
			ObjectMeta: metav1.ObjectMeta{Name: "app", UID: "uid-1"},
			Spec:       imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{dockerTag("spec-only", "x/a:1", nil), dockerTag("both", "x/b:1", nil)}},
			Status: imagev1.ImageStreamStatus{Tags: []imagev1.NamedTagEventList{
				{Tag: "both", Items: []imagev1.TagEvent{{Image: "sha256:1"}}},
				{Tag: "status-only", Items: []imagev1.TagEvent{{Image: "sha256:2"}}},
			}},
		}
	}
	wrongUID := "uid-2"
	for _, tc := range []struct {
		tag        string
		uid        *string
		wantErr    func(error) bool
		wantSpec   int
		wantStatus int
	}{
		{tag: "spec-only", wantSpec: 1, wantStatus: 2},
		{tag: "status-only", wantSpec: 2, wantStatus: 1},
		{tag: "both", wantSpec: 1, wantStatus: 1},
		{tag: "none", wantErr: apierrors.IsNotFound, wantSpec: 2, wantStatus: 2},
		{tag: "both", uid: &wrongUID, wantErr: apierrors.IsConflict, wantSpec: 2, wantStatus: 2},
	} {
		s := stream()
		changed, err := Delete(resource, "app", tc.tag, tc.uid)(s, nil)
		if tc.wantErr != nil {
			if !tc.wantErr(err) || changed {
				t.Errorf("delete %s: changed %v err %v", tc.tag, changed, err)
			}
		} else if err != nil || !changed {
			t.Errorf("delete %s: changed %v err %v", tc.tag, changed, err)
		}
		if len(s.Spec.Tags) != tc.wantSpec || len(s.Status.Tags) != tc.wantStatus {
			t.Errorf("delete %s: %d spec and %d status tags left, want %d and %d", tc.tag, len(s.Spec.Tags), len(s.Status.Tags), tc.wantSpec, tc.wantStatus)
		}
	}
}
