package image

import (
	"context"
	"fmt"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
)

// maxStoredBytes is the largest image the server writes. etcd refuses a request over its
// --max-request-bytes (1.5 MiB by default) with an error the client would see as a 500; the
// margin leaves room for the key and the request's framing.
const maxStoredBytes = txn.DefaultMaxRequestBytes - 4096

// Create refuses images too large to store with a 413, then creates. Updates need no such
// check: they keep the stored layers, metadata and signatures, and validation bounds what
// they may change (labels, annotations).
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	return r.Store.Create(ctx, obj, sizeLimited(createValidation), options)
}

// sizeLimited runs the size check after the strategy has prepared and validated the image,
// just before the write. (Checking etcd's own error instead would not work: the generic
// handlers retry a write without managedFields only on that raw error.)
func sizeLimited(validate rest.ValidateObjectFunc) rest.ValidateObjectFunc {
	return func(ctx context.Context, obj runtime.Object) error {
		if err := CheckStoredSize(obj); err != nil {
			return err
		}
		if validate == nil {
			return nil
		}
		return validate(ctx, obj)
	}
}

// CheckStoredSize returns a 413 if obj, an Image, is too large for etcd to store. Writers
// that grow an existing image (a new signature) call it before their write.
func CheckStoredSize(obj runtime.Object) error {
	img, ok := obj.(*imagev1.Image)
	if !ok {
		return nil
	}
	if size := img.Size(); size > maxStoredBytes {
		return apierrors.NewRequestEntityTooLargeError(fmt.Sprintf(
			"image %s would be stored as %d bytes, over etcd's request limit of %d bytes: drop layers, signatures or annotations",
			img.Name, size, maxStoredBytes))
	}
	return nil
}
