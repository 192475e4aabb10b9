package image_test

import (
	"fmt"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// withLayers returns img with n layers, about 100 bytes each once stored.
func withLayers(img *imagev1.Image, n int) *imagev1.Image {
	img = img.DeepCopy()
	img.DockerImageLayers = nil
	for i := 0; i < n; i++ {
		img.DockerImageLayers = append(img.DockerImageLayers, imagev1.ImageLayer{
			Name: fmt.Sprintf("sha256:%064x", 1_000_000+i), LayerSize: 1024, MediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
		})
	}
	return img
}

// An image too large for etcd's request limit is a 413 that says what to drop, on create
// instead of etcd's "request is too large" as a 500; nothing is written.
func TestImageSizeGuard(t *testing.T) {
	images, _ := newStorage(t)
	tests := []struct {
		name    string
		layers  int
		wantErr bool
	}{
		{name: "10 000 layers fit", layers: 10_000},
		{name: "16 000 layers do not", layers: 16_000, wantErr: true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := withLayers(validImage(), tc.layers)
			img.Name = digestName(5000 + i)
			_, err := images.Create(clusterContext(), img, nil, &metav1.CreateOptions{})
			if tc.wantErr != apierrors.IsRequestEntityTooLargeError(err) || (!tc.wantErr && err != nil) {
				t.Fatalf("create with %d layers: %v", tc.layers, err)
			}
			_, getErr := images.Get(clusterContext(), img.Name, &metav1.GetOptions{})
			if tc.wantErr != apierrors.IsNotFound(getErr) {
				t.Errorf("after create: get %v", getErr)
			}
		})
	}
}
