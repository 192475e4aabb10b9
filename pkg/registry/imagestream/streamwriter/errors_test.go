package streamwriter_test

import (
	"errors"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/streamwriter"
)

func TestNameAfter(t *testing.T) {
	resource := imagev1.Resource("imagestreamtags")
	streams := imagev1.Resource("imagestreams")
	for _, tc := range []struct {
		name     string
		err      error
		wantMsg  string
		wantKind string
		wantName string
		wantCode int32
	}{
		{"missing stream", apierrors.NewNotFound(streams, "app"), `imagestreamtags.image.openshift.io "app" not found`, "imagestreamtags", "app", 404},
		{"writer's 429 keeps its message", apierrors.NewTooManyRequests("busy", 1), "busy", "imagestreamtags", "app", 429},
		{"a change's own error is kept", apierrors.NewAlreadyExists(imagev1.Resource("imagestreamtag"), "app:v1"), `imagestreamtag.image.openshift.io "app:v1" already exists`, "imagestreamtag", "app:v1", 409},
		{"a plain error becomes a 500 with details", errors.New("boom"), "Internal error occurred: boom", "imagestreamtags", "app", 500},
	} {
		err := streamwriter.NameAfter(tc.err, resource, "app")
		var se *apierrors.StatusError
		if !errors.As(err, &se) {
			t.Fatalf("%s: %T", tc.name, err)
		}
		d := se.ErrStatus.Details
		if se.ErrStatus.Code != tc.wantCode || se.ErrStatus.Message != tc.wantMsg || d == nil || d.Kind != tc.wantKind || d.Name != tc.wantName || d.Group != imagev1.GroupName {
			t.Errorf("%s: %d %q details %+v", tc.name, se.ErrStatus.Code, se.ErrStatus.Message, d)
		}
	}
}
