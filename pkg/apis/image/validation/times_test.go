package validation

import (
	"reflect"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// TestValidateTimes: a time JSON cannot carry (a year outside 0000–9999, which only a protobuf
// body can send) is refused wherever it is in an Image or ImageStream, at its JSON path, since
// once stored it would make every JSON read of the object fail. Found by FuzzImageCreate and
// FuzzImageStreamUpdate (testdata/fuzz).
func TestValidateTimes(t *testing.T) {
	at := func(year int) metav1.Time { return metav1.NewTime(time.Date(year, 1, 2, 3, 4, 5, 0, time.UTC)) }
	atPtr := func(year int) *metav1.Time { v := at(year); return &v }
	signed := func(mutate func(*imagev1.ImageSignature)) func() field.ErrorList {
		return func() field.ErrorList {
			img := docImage()
			sig := validSignature()
			sig.Conditions = []imagev1.SignatureCondition{
				{Type: signatureTrusted, Status: corev1.ConditionTrue, LastProbeTime: at(2024), LastTransitionTime: at(2024)},
				{Type: signatureForImage, Status: corev1.ConditionTrue, LastProbeTime: at(2024), LastTransitionTime: at(2024)},
			}
			mutate(&sig)
			img.Signatures = []imagev1.ImageSignature{sig}
			return ValidateImage(&img)
		}
	}
	statusEvent := func(created metav1.Time) func() field.ErrorList {
		return func() field.ErrorList {
			old, is := validStream(), validStream()
			old.ResourceVersion, is.ResourceVersion = "1", "1"
			is.Status.Tags[0].Items = append([]imagev1.TagEvent{{Created: created, DockerImageReference: "quay.io/ns/name@" + otherDigest, Image: otherDigest}}, is.Status.Tags[0].Items...)
			return ValidateImageStreamStatusUpdate(&is, &old)
		}
	}
	tests := []struct {
		name     string
		validate func() field.ErrorList
		want     []fe
	}{
		{name: "signature times in range", validate: signed(func(s *imagev1.ImageSignature) { s.Created = atPtr(9999) })},
		{name: "year 0 is in range", validate: signed(func(s *imagev1.ImageSignature) { s.Created = atPtr(0) })},
		{name: "signature created after 9999", validate: signed(func(s *imagev1.ImageSignature) { s.Created = atPtr(10000) }),
			want: []fe{inv("signatures[0].created")}},
		{name: "signature condition probed before year 0", validate: signed(func(s *imagev1.ImageSignature) { s.Conditions[1].LastProbeTime = at(-1) }),
			want: []fe{inv("signatures[0].conditions[1].lastProbeTime")}},
		{name: "signature metadata", validate: signed(func(s *imagev1.ImageSignature) { s.CreationTimestamp = at(36812) }),
			want: []fe{inv("signatures[0].metadata.creationTimestamp")}},
		{name: "image managed fields", validate: func() field.ErrorList {
			img := docImage()
			img.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "m", Operation: metav1.ManagedFieldsOperationUpdate, Time: atPtr(12345)}}
			return ValidateImage(&img)
		}, want: []fe{inv("metadata.managedFields[0].time")}},
		{name: "embedded image of a mapping", validate: func() field.ErrorList {
			m := docMapping()
			m.Image.DeletionTimestamp = atPtr(10000)
			return ValidateImageStreamMapping(&m)
		}, want: []fe{inv("image.metadata.deletionTimestamp")}},
		{name: "stream status event on create", validate: func() field.ErrorList {
			is := validStream()
			is.Status.Tags[0].Items[0].Created = at(10000)
			return ValidateImageStream(&is)
		}, want: []fe{inv("status.tags[0].items[0].created")}},
		{name: "status update: event in range", validate: statusEvent(at(2024))},
		{name: "status update: event after 9999", validate: statusEvent(at(36812)), want: []fe{inv("status.tags[0].items[0].created")}},
		{name: "status update: condition", validate: func() field.ErrorList {
			old, is := validStream(), validStream()
			old.ResourceVersion, is.ResourceVersion = "1", "1"
			is.Status.Tags[0].Conditions = []imagev1.TagEventCondition{{Type: imagev1.ImportSuccess, Status: corev1.ConditionFalse, LastTransitionTime: at(10000)}}
			return ValidateImageStreamStatusUpdate(&is, &old)
		}, want: []fe{inv("status.tags[0].conditions[0].lastTransitionTime")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkErrors(t, tc.validate(), tc.want...)
		})
	}
}

// TestMayHoldTime: the walk skips types that hold no time (most of an image) and enters those
// that may.
func TestMayHoldTime(t *testing.T) {
	for typ, want := range map[reflect.Type]bool{
		reflect.TypeFor[imagev1.Image]():           true,
		reflect.TypeFor[imagev1.ImageStream]():     true,
		reflect.TypeFor[[]imagev1.TagEvent]():      true,
		reflect.TypeFor[*metav1.MicroTime]():       true,
		reflect.TypeFor[imagev1.ImageLayer]():      false,
		reflect.TypeFor[[]imagev1.ImageManifest](): false,
		reflect.TypeFor[imagev1.TagReference]():    false,
		reflect.TypeFor[map[string]string]():       false,
	} {
		if got := mayHoldTime(typ); got != want {
			t.Errorf("mayHoldTime(%v) = %v, want %v", typ, got, want)
		}
	}
}
