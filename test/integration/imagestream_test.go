package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

// TestImageStreamCRUD drives create, get, list, update, status, patch and delete with the
// openshift typed client, in JSON and protobuf.
func TestImageStreamCRUD(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	forEachContentType(t, func(t *testing.T, ct string) {
		ctx := testContext(t)
		ns := "crud-" + shortName(ct)
		streams := s.ImageClient(ct).ImageV1().ImageStreams(ns)

		in := newStream("app", "v1")
		in.Status.DockerImageRepository = "ignored.example/ns/app" // client status is discarded on create
		created, err := streams.Create(ctx, in, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if created.Generation != 1 || created.Spec.Tags[0].Generation == nil || *created.Spec.Tags[0].Generation != 1 {
			t.Errorf("generation = %d, tag generation = %v; want 1 and 1", created.Generation, created.Spec.Tags[0].Generation)
		}
		if want := "registry.test:5000/" + ns + "/app"; created.Status.DockerImageRepository != want {
			t.Errorf("status.dockerImageRepository = %q, want %q (D11)", created.Status.DockerImageRepository, want)
		}
		if got := created.Spec.Tags[0].ReferencePolicy.Type; got != imagev1.SourceTagReferencePolicy {
			t.Errorf("referencePolicy.type defaulted to %q, want Source", got)
		}
		if len(created.Status.Tags) != 1 || created.Status.Tags[0].Items[0].DockerImageReference != "quay.io/example/app:v1" {
			t.Errorf("reference tag not resolved into status: %+v", created.Status.Tags)
		}

		got, err := streams.Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		if got.UID != created.UID || got.ResourceVersion != created.ResourceVersion {
			t.Errorf("get returned %s@%s, want %s@%s", got.UID, got.ResourceVersion, created.UID, created.ResourceVersion)
		}

		// A labels-only update keeps the generation; a spec change bumps it.
		got.Labels = map[string]string{"team": "a"}
		labelled, err := streams.Update(ctx, got, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("update labels: %v", err)
		}
		if labelled.Generation != 1 {
			t.Errorf("labels-only update changed generation to %d", labelled.Generation)
		}
		labelled.Spec.Tags = append(labelled.Spec.Tags, imagev1.TagReference{Name: "v2", From: newStream("x", "v2").Spec.Tags[0].From, Reference: true})
		labelled.Status.Tags = nil // status through the main endpoint is ignored
		updated, err := streams.Update(ctx, labelled, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("update spec: %v", err)
		}
		if updated.Generation != 2 || len(updated.Status.Tags) != 2 {
			t.Errorf("after spec update: generation %d, %d status tags; want 2 and 2", updated.Generation, len(updated.Status.Tags))
		}

		// A stale resourceVersion is a 409.
		_, err = streams.Update(ctx, labelled, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			t.Errorf("update with stale resourceVersion: got %v, want 409 Conflict", err)
		}

		// The status endpoint changes status and nothing else.
		updated.Status.Tags = append(updated.Status.Tags, imagev1.NamedTagEventList{Tag: "pushed", Items: []imagev1.TagEvent{{
			Created: metav1.Now(), DockerImageReference: "registry.test:5000/" + ns + "/app@" + testDigest, Image: testDigest,
		}}})
		updated.Labels = map[string]string{"team": "changed-through-status"}
		status, err := streams.UpdateStatus(ctx, updated, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("update status: %v", err)
		}
		if len(status.Status.Tags) != 3 || status.Labels["team"] != "a" {
			t.Errorf("status update: %d tags, labels %v; want 3 tags and labels unchanged", len(status.Status.Tags), status.Labels)
		}
		if head := status.Status.Tags[0]; head.Tag != "pushed" || head.Items[0].Generation != status.Generation {
			t.Errorf("status tags not sorted or head generation not filled: %+v", status.Status.Tags)
		}

		// JSON merge and strategic merge patches.
		merge := []byte(`{"metadata":{"annotations":{"merged":"yes"}}}`)
		if _, err := streams.Patch(ctx, "app", types.MergePatchType, merge, metav1.PatchOptions{}); err != nil {
			t.Fatalf("merge patch: %v", err)
		}
		strategic := []byte(`{"spec":{"lookupPolicy":{"local":true}}}`)
		patched, err := streams.Patch(ctx, "app", types.StrategicMergePatchType, strategic, metav1.PatchOptions{})
		if err != nil {
			t.Fatalf("strategic merge patch: %v", err)
		}
		if patched.Annotations["merged"] != "yes" || !patched.Spec.LookupPolicy.Local {
			t.Errorf("patches not applied: annotations %v, lookupPolicy %+v", patched.Annotations, patched.Spec.LookupPolicy)
		}

		list, err := streams.List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) != 1 {
			t.Fatalf("list: %v, %d items", err, len(list.Items))
		}
		if err := streams.Delete(ctx, "app", metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := streams.Get(ctx, "app", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("get after delete: %v, want 404", err)
		}

		// deletecollection removes what the selector matches and nothing else.
		for _, name := range []string{"keep", "drop1", "drop2"} {
			st := newStream(name)
			st.Labels = map[string]string{"drop": fmt.Sprint(strings.HasPrefix(name, "drop"))}
			if _, err := streams.Create(ctx, st, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := streams.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "drop=true"}); err != nil {
			t.Fatalf("deletecollection: %v", err)
		}
		left, err := streams.List(ctx, metav1.ListOptions{})
		if err != nil || len(left.Items) != 1 || left.Items[0].Name != "keep" {
			t.Errorf("after deletecollection: %+v (%v), want only keep", left, err)
		}
	})
}

// TestImageStreamValidation checks codes and exact field paths of 422s (D3, D4).
func TestImageStreamValidation(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	streams := s.ImageClient(framework.ContentTypes[0]).ImageV1().ImageStreams("validation")
	tests := []struct {
		name   string
		stream *imagev1.ImageStream
		fields []string
		types  []field.ErrorType
	}{
		{"D3: name longer than 63 characters", newStream(strings.Repeat("a", 64)), []string{"metadata.name"}, []field.ErrorType{field.ErrorTypeTooLong}},
		{"D3: name not matching the stream pattern", newStream("Upper"), []string{"metadata.name"}, []field.ErrorType{field.ErrorTypeInvalid}},
		{"D4: tag name with a slash", func() *imagev1.ImageStream {
			st := newStream("app", "v1")
			st.Spec.Tags[0].Name = "a/b"
			return st
		}(), []string{"spec.tags[0].name"}, []field.ErrorType{field.ErrorTypeInvalid}},
		{"D4: duplicate tag", newStream("app", "v1", "v1"), []string{"spec.tags[1].name"}, []field.ErrorType{field.ErrorTypeDuplicate}},
		{"DockerImage from that does not parse", func() *imagev1.ImageStream {
			st := newStream("app", "v1")
			st.Spec.Tags[0].From.Name = "Not A Reference"
			return st
		}(), []string{"spec.tags[0].from.name"}, []field.ErrorType{field.ErrorTypeInvalid}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := streams.Create(testContext(t), tc.stream, metav1.CreateOptions{})
			if !apierrors.IsInvalid(err) {
				t.Fatalf("got %v, want 422 Invalid", err)
			}
			se := statusError(t, err)
			if se.ErrStatus.Code != 422 || se.ErrStatus.Details == nil || se.ErrStatus.Details.Kind != "ImageStream" {
				t.Errorf("status %+v: want code 422 with details naming the kind", se.ErrStatus)
			}
			if got := causeFields(se); fmt.Sprint(got) != fmt.Sprint(tc.fields) {
				t.Errorf("cause fields %v, want %v (message %q)", got, tc.fields, se.ErrStatus.Message)
			}
			for i, c := range se.ErrStatus.Details.Causes {
				if i < len(tc.types) && string(c.Type) != string(tc.types[i]) {
					t.Errorf("cause %d type %q, want %q", i, c.Type, tc.types[i])
				}
			}
		})
	}
	list, err := streams.List(testContext(t), metav1.ListOptions{})
	if err != nil || len(list.Items) != 0 {
		t.Errorf("invalid creates wrote something: %v, %d items", err, len(list.Items))
	}
}

// TestServerSideApply applies an ImageStream twice with two managers; this is the request that
// fails with a 500 ("no corresponding type for image.openshift.io/v1, Kind=ImageStream") when
// the OpenAPI definitions are named wrongly.
func TestServerSideApply(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	forEachContentType(t, func(t *testing.T, ct string) {
		ctx := testContext(t)
		streams := s.ImageClient(ct).ImageV1().ImageStreams("ssa-" + shortName(ct))
		apply := func(manager, body string) *imagev1.ImageStream {
			t.Helper()
			out, err := streams.Patch(ctx, "app", types.ApplyPatchType, []byte(body), metav1.PatchOptions{FieldManager: manager})
			if err != nil {
				t.Fatalf("apply as %s: %v", manager, err)
			}
			return out
		}
		apply("alice", `{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":"app","labels":{"owner":"alice"}},
			"spec":{"tags":[{"name":"v1","from":{"kind":"DockerImage","name":"quay.io/a/b:v1"}}]}}`)
		out := apply("bob", `{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":"app"},
			"spec":{"lookupPolicy":{"local":true}}}`)
		if !out.Spec.LookupPolicy.Local || len(out.Spec.Tags) != 1 || out.Labels["owner"] != "alice" {
			t.Errorf("merged apply result: lookupPolicy %+v, tags %+v, labels %v", out.Spec.LookupPolicy, out.Spec.Tags, out.Labels)
		}
		managers := map[string]bool{}
		for _, m := range out.ManagedFields {
			managers[m.Manager] = true
		}
		if !managers["alice"] || !managers["bob"] {
			t.Errorf("managedFields managers = %v, want alice and bob", managers)
		}
		// A conflicting apply is a 409 naming the conflicting manager.
		_, err := streams.Patch(ctx, "app", types.ApplyPatchType, []byte(`{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":"app"},"spec":{"lookupPolicy":{"local":false}}}`), metav1.PatchOptions{FieldManager: "carol"})
		if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "bob") {
			t.Errorf("conflicting apply: %v, want 409 naming bob", err)
		}
		raw, _ := json.Marshal(out.Spec)
		t.Logf("applied spec: %s", raw)
	})
}
