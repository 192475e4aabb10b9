package imagestreammapping

import (
	"errors"
	"fmt"
	"net/http"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// resource is what errors are named after: the requested resource, not the stream or image
// read behind it. The registry keys its auto-provisioning on exactly this (D9).
var resource = imagev1.Resource("imagestreammappings")

// nameAfterMapping gives the stream writer's errors the mapping's name and details (D9): a
// missing stream is the 404 the registry recognises (kind imagestreammappings, name = the
// stream), and every error carries group, kind and name.
func nameAfterMapping(err error, stream string) error {
	if apierrors.IsNotFound(err) {
		return apierrors.NewNotFound(resource, stream)
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		status = apierrors.NewInternalError(err)
	}
	st := status.Status()
	if st.Details == nil {
		st.Details = &metav1.StatusDetails{}
	} else {
		st.Details = st.Details.DeepCopy()
	}
	d := st.Details
	if (d.Group == "" && d.Kind == "") || (d.Group == imagev1.GroupName && d.Kind == "imagestreams") {
		d.Group, d.Kind = resource.Group, resource.Resource
	}
	if d.Name == "" {
		d.Name = stream
	}
	return &apierrors.StatusError{ErrStatus: st}
}

// success is the 201 reply: Status Success as OpenShift sends, with D12's details and message.
func success(ns, stream, tag, image string) *metav1.Status {
	return &metav1.Status{
		Status:  metav1.StatusSuccess,
		Code:    http.StatusCreated,
		Message: fmt.Sprintf("tag %s of image stream %s/%s now points to image %s", tag, ns, stream, image),
		Details: &metav1.StatusDetails{Group: resource.Group, Kind: resource.Resource, Name: stream},
	}
}
