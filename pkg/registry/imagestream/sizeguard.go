package imagestream

import (
	"context"
	"fmt"
	"net/http"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"
)

// TooLarge is decisions.md D8's answer for a stream over the limit: a 413 naming the stream,
// its size, the limit and the remedy, before etcd refuses it with an opaque error.
func TooLarge(resource, namespace, name string, size, limit int) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure,
		Code:   http.StatusRequestEntityTooLarge,
		Reason: metav1.StatusReasonRequestEntityTooLarge,
		Message: fmt.Sprintf("image stream %s/%s would be %d bytes, over the %d-byte limit (--max-imagestream-bytes); "+
			"prune its tag history (for example `oc adm prune images --keep-tag-revisions=5`) or delete unused tags",
			namespace, name, size, limit),
		Details: &metav1.StatusDetails{Group: imagev1.GroupName, Kind: resource, Name: name},
	}}
}

// sizeLimitedInfo checks the size of an updated stream before the store writes it. The main
// endpoint keeps the stored status (spec §4.4), so the estimate uses it.
type sizeLimitedInfo struct {
	rest.UpdatedObjectInfo
	limit         int
	keepOldStatus bool
	resource      string
}

func (s sizeLimitedInfo) UpdatedObject(ctx context.Context, old runtime.Object) (runtime.Object, error) {
	obj, err := s.UpdatedObjectInfo.UpdatedObject(ctx, old)
	if err != nil || s.limit <= 0 {
		return obj, err
	}
	stream, ok := obj.(*imagev1.ImageStream)
	if !ok {
		return obj, nil
	}
	estimate := stream
	if oldStream, ok := old.(*imagev1.ImageStream); ok && s.keepOldStatus {
		estimate = stream.DeepCopy()
		estimate.Status = oldStream.Status
	}
	if size := estimate.Size(); size > s.limit {
		return nil, TooLarge(s.resource, stream.Namespace, stream.Name, size, s.limit)
	}
	return obj, nil
}
