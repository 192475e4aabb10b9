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

// TooLarge is D8's answer for a stream over the limit: a 413 naming the stream,
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

// sizeLimit checks streams against D8's limit where the store asks admission to validate:
// after the strategy has prepared and validated the object, so that the check sees exactly
// what would be stored (the main endpoint keeps the stored status, the status endpoint the
// stored spec) and a malformed object gets its 422 first.
type sizeLimit struct {
	limit    int
	resource string
}

func (s sizeLimit) check(obj runtime.Object) error {
	stream, ok := obj.(*imagev1.ImageStream)
	if !ok || s.limit <= 0 {
		return nil
	}
	if size := stream.Size(); size > s.limit {
		return TooLarge(s.resource, stream.Namespace, stream.Name, size, s.limit)
	}
	return nil
}

// create wraps a create's validation with the check.
func (s sizeLimit) create(validate rest.ValidateObjectFunc) rest.ValidateObjectFunc {
	return func(ctx context.Context, obj runtime.Object) error {
		if err := s.check(obj); err != nil {
			return err
		}
		if validate == nil {
			return nil
		}
		return validate(ctx, obj)
	}
}

// update wraps an update's validation with the check.
func (s sizeLimit) update(validate rest.ValidateObjectUpdateFunc) rest.ValidateObjectUpdateFunc {
	return func(ctx context.Context, obj, old runtime.Object) error {
		if err := s.check(obj); err != nil {
			return err
		}
		if validate == nil {
			return nil
		}
		return validate(ctx, obj, old)
	}
}
