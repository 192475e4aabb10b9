package imagesignature

import (
	"context"
	"slices"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const image = "sha256:0000000000000000000000000000000000000000000000000000000000000001"

func TestPrepareForCreateClearsVerification(t *testing.T) {
	now := metav1.Now()
	sig := &imagev1.ImageSignature{
		ObjectMeta: metav1.ObjectMeta{
			Name: image + "@s", ResourceVersion: "7",
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		},
		Type:          imagev1.ImageSignatureTypeAtomicImageV1,
		Content:       []byte("c"),
		Conditions:    []imagev1.SignatureCondition{{Type: "Trusted", Status: corev1.ConditionTrue}, {Type: "ForImage", Status: corev1.ConditionTrue}},
		ImageIdentity: "quay.io/a/b",
		SignedClaims:  map[string]string{"k": "v"},
		Created:       &now,
		IssuedBy:      &imagev1.SignatureIssuer{SignatureGenericEntity: imagev1.SignatureGenericEntity{Organization: "o"}},
		IssuedTo:      &imagev1.SignatureSubject{PublicKeyID: "k"},
	}
	NewStrategy(runtime.NewScheme()).PrepareForCreate(context.Background(), sig)
	want := &imagev1.ImageSignature{
		ObjectMeta: metav1.ObjectMeta{Name: image + "@s"},
		Type:       imagev1.ImageSignatureTypeAtomicImageV1,
		Content:    []byte("c"),
	}
	if sig.String() != want.String() {
		t.Errorf("after PrepareForCreate:\n%s\nwant\n%s", sig, want)
	}
}

func TestValidate(t *testing.T) {
	valid := func() *imagev1.ImageSignature {
		return &imagev1.ImageSignature{
			ObjectMeta: metav1.ObjectMeta{Name: image + "@s"},
			Type:       imagev1.ImageSignatureTypeAtomicImageV1,
			Content:    []byte("c"),
		}
	}
	tests := []struct {
		name   string
		mutate func(*imagev1.ImageSignature)
		want   []string // "<type> <field>"
	}{
		{name: "valid", mutate: func(*imagev1.ImageSignature) {}},
		{name: "any type", mutate: func(s *imagev1.ImageSignature) { s.Type = "x" }},
		{name: "no @", mutate: func(s *imagev1.ImageSignature) { s.Name = image },
			want: []string{"FieldValueInvalid metadata.name"}},
		{name: "two @", mutate: func(s *imagev1.ImageSignature) { s.Name = image + "@a@b" },
			want: []string{"FieldValueInvalid metadata.name"}},
		{name: "no image part", mutate: func(s *imagev1.ImageSignature) { s.Name = "@s" },
			want: []string{"FieldValueInvalid metadata.name"}},
		{name: "no signature part", mutate: func(s *imagev1.ImageSignature) { s.Name = image + "@" },
			want: []string{"FieldValueInvalid metadata.name"}},
		{name: "slash in the name", mutate: func(s *imagev1.ImageSignature) { s.Name = image + "@a/b" },
			want: []string{"FieldValueInvalid metadata.name"}},
		{name: "type and content required", mutate: func(s *imagev1.ImageSignature) { s.Type, s.Content = "", nil },
			want: []string{"FieldValueRequired type", "FieldValueRequired content"}},
		{name: "labels and annotations forbidden", mutate: func(s *imagev1.ImageSignature) {
			s.Labels = map[string]string{"a": "b"}
			s.Annotations = map[string]string{"a": "b"}
		}, want: []string{"FieldValueForbidden metadata.labels", "FieldValueForbidden metadata.annotations"}},
		{name: "namespace forbidden", mutate: func(s *imagev1.ImageSignature) { s.Namespace = "ns" },
			want: []string{"FieldValueForbidden metadata.namespace"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sig := valid()
			tc.mutate(sig)
			errs := NewStrategy(runtime.NewScheme()).Validate(context.Background(), sig)
			if got := describe(errs); !slices.Equal(got, tc.want) {
				t.Errorf("errors %q, want %q", got, tc.want)
			}
		})
	}
}

func describe(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, string(e.Type)+" "+e.Field)
	}
	return out
}

func TestSplitName(t *testing.T) {
	tests := []struct {
		name, image string
		ok          bool
	}{
		{image + "@s", image, true},
		{"a@b", "a", true},
		{"a", "", false},
		{"@b", "", false},
		{"a@", "", false},
		{"a@b@c", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		img, ok := splitName(tc.name)
		if img != tc.image || ok != tc.ok {
			t.Errorf("splitName(%q) = %q, %v; want %q, %v", tc.name, img, ok, tc.image, tc.ok)
		}
	}
}
