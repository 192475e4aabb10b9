package imagestreammapping

import (
	"fmt"
	"net/http"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// resource is what errors are named after: the requested resource, not the stream or image
// read behind it. The registry keys its auto-provisioning on exactly this (D9).
var resource = imagev1.Resource("imagestreammappings")

// success is the 201 reply: Status Success as OpenShift sends, with D12's details and message.
func success(ns, stream, tag, image string) *metav1.Status {
	return &metav1.Status{
		Status:  metav1.StatusSuccess,
		Code:    http.StatusCreated,
		Message: fmt.Sprintf("tag %s of image stream %s/%s now points to image %s", tag, ns, stream, image),
		Details: &metav1.StatusDetails{Group: resource.Group, Kind: resource.Resource, Name: stream},
	}
}
