package imagestreammapping_test

import (
	"context"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestreammapping"
)

// A mapping without a reference gets one from --registry-hostname (D11), and the server must
// accept what it built itself, whatever form of host the flag allows: a DNS name, an IPv4
// address or an IPv6 address in brackets.
func TestDefaultReferenceFromEveryRegistryHostnameForm(t *testing.T) {
	const digest = "sha256:47463d94eb5c049b2d23b03a9530bf944f8f967a0fe79147dd6b9135bf7dd13d"
	for _, host := range []string{
		"image-registry.openshift-image-registry.svc:5000",
		"172.30.1.1:5000",
		"[fd00::1]:5000",
		"[fd00::1]",
	} {
		s := imagestreammapping.NewStrategy(apiserver.Scheme, imagestream.RegistryHostnames{Internal: host})
		ism := &imagev1.ImageStreamMapping{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app"},
			Tag:        "latest",
			Image:      imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: digest}},
		}
		s.PrepareForCreate(context.Background(), ism)
		if got, want := ism.Image.DockerImageReference, host+"/ns/app@"+digest; got != want {
			t.Errorf("%s: reference %q, want %q", host, got, want)
		}
		if errs := s.Validate(context.Background(), ism); len(errs) != 0 {
			t.Errorf("%s: the server refuses the reference it built: %v", host, errs)
		}
	}
}
