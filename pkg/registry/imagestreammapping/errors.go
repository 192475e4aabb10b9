package imagestreammapping

import (
	"errors"
	"fmt"
	"net/http"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
)

// resource is what errors are named after: the requested resource, not the stream or image
// read behind it. The registry keys its auto-provisioning on exactly this (decisions.md D9).
var resource = imagev1.Resource("imagestreammappings")

// streamNotFound is the 404 the registry recognises: kind imagestreammappings, name = stream.
func streamNotFound(stream string) error {
	return apierrors.NewNotFound(resource, stream)
}

// withDetails gives an error the D9 details (group, kind, name) when it has none.
func withDetails(status *apierrors.StatusError, stream string) *apierrors.StatusError {
	if status.ErrStatus.Details == nil {
		status.ErrStatus.Details = &metav1.StatusDetails{}
	}
	d := status.ErrStatus.Details
	if d.Group == "" && d.Kind == "" {
		d.Group, d.Kind = resource.Group, resource.Resource
	}
	if d.Name == "" {
		d.Name = stream
	}
	return status
}

// tooManyRetries is D7's answer when the request's deadline runs out before the transaction
// commits: a 429 that client-go retries by itself after Retry-After.
func tooManyRetries(ns, stream string, attempts int) error {
	err := apierrors.NewTooManyRequests(fmt.Sprintf(
		"image stream %s/%s is being updated by many requests at once; the mapping was not recorded after %d attempts: retry",
		ns, stream, attempts), 1)
	return withDetails(err, stream)
}

// streamTooLarge is D8's answer for a mapping: the stream's 413, named after the mapping.
func streamTooLarge(ns, stream string, size, limit int) error {
	return imagestream.TooLarge(resource.Resource, ns, stream, size, limit)
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

// storageUnavailable replaces a storage failure that is not an API answer (etcd unreachable,
// timed out) by a 503 the client may retry: mappings are idempotent, so a retry of one that
// did commit records nothing twice.
func storageUnavailable(err error, stream string) error {
	var status *apierrors.StatusError
	if errors.As(err, &status) && status.ErrStatus.Code != http.StatusInternalServerError {
		return withDetails(status, stream)
	}
	return withDetails(&apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusServiceUnavailable,
		Reason:  metav1.StatusReasonServiceUnavailable,
		Message: fmt.Sprintf("storage is unavailable, the mapping may not have been recorded; retrying is safe: %v", err),
		Details: &metav1.StatusDetails{RetryAfterSeconds: 1},
	}}, stream)
}
