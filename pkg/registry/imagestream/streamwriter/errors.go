package streamwriter

import (
	"errors"
	"fmt"
	"net/http"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// resource names the writer's errors; callers rename them after the resource their client
// asked for (D9).
var resource = imagev1.Resource("imagestreams")

// errDeadline is why a request stopped waiting for its transaction.
var errDeadline = errors.New("the request's deadline came before etcd answered")

// retryAfterSeconds is the Retry-After of every retryable answer; client-go honours it and
// retries by itself.
const retryAfterSeconds = 1

func streamNotFound(name string) error {
	return apierrors.NewNotFound(resource, name)
}

// deadlineNotRecorded is D7's answer when a request's deadline comes before its change could
// commit: nothing was written and nothing will be, so a retry is the client's to make.
func deadlineNotRecorded(namespace, name string, c Change, attempts int) error {
	err := apierrors.NewTooManyRequests(fmt.Sprintf(
		"image stream %s/%s is being updated by many requests at once; %s was not recorded (%d transaction attempts before the request's deadline): retry",
		namespace, name, c, attempts), retryAfterSeconds)
	err.ErrStatus.Details.Name = name
	return err
}

// outcomeUnknown is the answer when the change's transaction was sent and etcd's answer did
// not arrive: 504 when the request's deadline came first, 503 when etcd is unreachable. The
// change may have been recorded, and retrying it is harmless.
func outcomeUnknown(code int, namespace, name string, c Change, cause error) error {
	reason := metav1.StatusReasonServiceUnavailable
	if code == http.StatusGatewayTimeout {
		reason = metav1.StatusReasonTimeout
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure,
		Code:   int32(code),
		Reason: reason,
		Message: fmt.Sprintf("%s in image stream %s/%s may have been recorded: %v; retrying it is safe, a change that is recorded already is not recorded twice",
			c, namespace, name, cause),
		Details: &metav1.StatusDetails{Group: resource.Group, Kind: resource.Resource, Name: name, RetryAfterSeconds: retryAfterSeconds},
	}}
}

// storageUnavailable is the answer when etcd could not be read before anything was sent:
// the change was not recorded.
func storageUnavailable(namespace, name string, c Change, cause error) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusServiceUnavailable,
		Reason:  metav1.StatusReasonServiceUnavailable,
		Message: fmt.Sprintf("storage is unavailable: %v; %s in image stream %s/%s was not recorded: retry", cause, c, namespace, name),
		Details: &metav1.StatusDetails{Group: resource.Group, Kind: resource.Resource, Name: name, RetryAfterSeconds: retryAfterSeconds},
	}}
}

// NameAfter gives the writer's errors the name of the resource the client asked for (D9): a
// missing stream is `<resource> "<stream>" not found`, as OpenShift answers (the registry
// creates a stream on exactly that 404 from a mapping), and every error carries group, kind
// and name.
func NameAfter(err error, resource schema.GroupResource, stream string) error {
	if err == nil {
		return nil
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
	if d.Group == imagev1.GroupName && d.Kind == "imagestreams" {
		if st.Code == 404 && d.Name == stream {
			return apierrors.NewNotFound(resource, stream)
		}
		d.Kind = resource.Resource
	}
	if d.Group == "" && d.Kind == "" {
		d.Group, d.Kind = resource.Group, resource.Resource
	}
	if d.Name == "" {
		d.Name = stream
	}
	return &apierrors.StatusError{ErrStatus: st}
}
