package notifications

import (
	"context"
	"errors"
	"fmt"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Recorder writes what a push records. Its errors are API statuses.
type Recorder interface {
	// CreateImage creates img; an Image that exists already is success.
	CreateImage(ctx context.Context, img *imagev1.Image) error
	// Map points tag of stream namespace/name at img, creating the Image when new and the
	// stream when missing.
	Map(ctx context.Context, namespace, name, tag string, img *imagev1.Image) error
}

// Identity is the user the writes are made as, in audit-free in-process calls: the handler
// authenticated the registry itself.
var Identity = &user.DefaultInfo{Name: "system:image-apiserver:registry-notifications"}

// RESTRecorder records through the server's own storage, exactly as POSTs of images,
// imagestreams and imagestreammappings would (validation, metadata derivation, the stream
// writer), without admission: the registry's token is the only authorization.
type RESTRecorder struct {
	Images, Streams, Mappings rest.Creater
}

var _ Recorder = RESTRecorder{}

func withNamespace(ctx context.Context, namespace string) context.Context {
	return genericapirequest.WithUser(genericapirequest.WithNamespace(ctx, namespace), Identity)
}

// CreateImage implements Recorder.
func (r RESTRecorder) CreateImage(ctx context.Context, img *imagev1.Image) error {
	_, err := r.Images.Create(withNamespace(ctx, metav1.NamespaceNone), img.DeepCopy(), nil, &metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// Images are immutable and named by digest: the one that exists is this one.
		return nil
	}
	return err
}

// Map implements Recorder. Like the integrated registry, it creates the stream when the
// mapping's 404 names it, and maps again.
func (r RESTRecorder) Map(ctx context.Context, namespace, name, tag string, img *imagev1.Image) error {
	ctx = withNamespace(ctx, namespace)
	ism := &imagev1.ImageStreamMapping{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Tag:        tag,
		Image:      *img.DeepCopy(),
	}
	_, err := r.Mappings.Create(ctx, ism.DeepCopy(), nil, &metav1.CreateOptions{})
	if !streamMissing(err, name) {
		return err
	}
	stream := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	if _, err := r.Streams.Create(ctx, stream, nil, &metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("creating image stream %s/%s: %w", namespace, name, err)
	}
	_, err = r.Mappings.Create(ctx, ism, nil, &metav1.CreateOptions{})
	return err
}

// streamMissing recognises the mapping's 404 for a stream that does not exist, as opposed to
// any other 404.
func streamMissing(err error, stream string) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || !apierrors.IsNotFound(err) {
		return false
	}
	d := status.Status().Details
	return d != nil && d.Kind == "imagestreammappings" && d.Name == stream
}
