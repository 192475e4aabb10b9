package importer

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// dockerImageResource is what per-image errors name, as OpenShift's importer does:
// `dockerimage.image.openshift.io "<ref>" not found`.
var dockerImageResource = schema.GroupResource{Group: imagev1.GroupName, Resource: "dockerimage"}

// integrityError says that what a registry sent does not hash to the digest it was asked for.
type integrityError struct{ err error }

func (e integrityError) Error() string { return "content integrity error: " + e.err.Error() }
func (e integrityError) Unwrap() error { return e.err }

// failure describes why a fetch failed, with what the Status needs to say it.
type failure struct {
	// ref is the reference the registry was asked for, with registry and tag defaults.
	ref string
	// repository is the repository as typed, for the HTTP-only message.
	repository string
	// insecure and credentials are how the registry was reached.
	insecure, credentials bool
}

// errorStatus turns an error of a fetch into the Status of its entry, with OpenShift's codes,
// reasons and messages. Every Status names the image in its details.
func (f failure) errorStatus(err error) metav1.Status {
	var status metav1.Status
	var statusErr apierrors.APIStatus
	var tErr *transport.Error
	switch {
	case errors.As(err, &statusErr):
		status = statusErr.Status()
	case errors.As(err, &tErr) && isNotFound(tErr):
		status = apierrors.NewNotFound(dockerImageResource, f.ref).ErrStatus
	case errors.As(err, &tErr) && isUnauthorized(tErr), strings.Contains(err.Error(), "incorrect username or password"):
		// A registry cannot tell a wrong password from a missing right: both are 401. Which
		// one it was is what we sent; the wrong-password text also triggers the anonymous
		// retry, for stale credentials that shadow a public image.
		msg := fmt.Sprintf("you may not have access to the container image %q", f.ref)
		if f.credentials || strings.Contains(err.Error(), "incorrect username or password") {
			msg = fmt.Sprintf("incorrect username or password for image %q", f.ref)
		}
		status = apierrors.NewUnauthorized(msg).ErrStatus
	case !f.insecure && isHTTPOnly(err):
		status = apierrors.NewBadRequest(fmt.Sprintf("the repository %s is HTTP only and requires the insecure flag to import", f.repository)).ErrStatus
	case isIntegrityError(err):
		status = apierrors.NewInternalError(fmt.Errorf("%s: %w", f.ref, integrityError{err})).ErrStatus
	default:
		status = apierrors.NewInternalError(fmt.Errorf("%s: %w", f.ref, err)).ErrStatus
	}
	return withDetails(status, f.ref)
}

// withDetails makes sure the Status names the image (group, kind, name), whatever built it.
func withDetails(status metav1.Status, ref string) metav1.Status {
	if status.Details == nil {
		status.Details = &metav1.StatusDetails{}
	}
	d := status.Details
	if d.Group == "" && d.Kind == "" {
		d.Group, d.Kind = dockerImageResource.Group, dockerImageResource.Resource
	}
	if d.Name == "" {
		d.Name = ref
	}
	return status
}

func isNotFound(err *transport.Error) bool {
	return err.StatusCode == http.StatusNotFound ||
		hasCode(err, transport.NameUnknownErrorCode) || hasCode(err, transport.ManifestUnknownErrorCode)
}

func isUnauthorized(err *transport.Error) bool {
	return err.StatusCode == http.StatusUnauthorized || hasCode(err, transport.UnauthorizedErrorCode)
}

func hasCode(err *transport.Error, code transport.ErrorCode) bool {
	for _, d := range err.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}

// isHTTPOnly reports an HTTPS request answered in plain HTTP. Our refusal of plain HTTP alone
// says nothing: it also accompanies HTTPS failures such as an unknown certificate authority.
func isHTTPOnly(err error) bool {
	return strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

// isIntegrityError recognises a digest mismatch. The registry client reports the ones it
// detects (manifests pulled by digest, blobs) in text only.
func isIntegrityError(err error) bool {
	var ie integrityError
	if errors.As(err, &ie) {
		return false // already said
	}
	msg := err.Error()
	return strings.Contains(msg, "does not match requested digest") || strings.Contains(msg, "error verifying")
}

// invalidStatus is the Status of a from.name that is not a valid pull spec.
func invalidStatus(name string, err error) metav1.Status {
	fe := field.Invalid(field.NewPath("from", "name"), name, fmt.Sprintf("invalid name: %v", err))
	status := apierrors.NewInvalid(schema.GroupKind{Group: dockerImageResource.Group, Kind: dockerImageResource.Resource}, name, field.ErrorList{fe}).ErrStatus
	return withDetails(status, name)
}

// kindStatus is the Status of a source that is not a DockerImage.
func kindStatus(from corev1.ObjectReference) metav1.Status {
	fe := field.NotSupported(field.NewPath("from", "kind"), from.Kind, []string{"DockerImage"})
	status := apierrors.NewInvalid(schema.GroupKind{Group: dockerImageResource.Group, Kind: dockerImageResource.Resource}, from.Name, field.ErrorList{fe}).ErrStatus
	return withDetails(status, from.Name)
}

// forbiddenStatus is the Status of an image from a registry the allow-list does not name.
func forbiddenStatus(ref, registry string) metav1.Status {
	err := fmt.Errorf("importing images from registry %q is forbidden: only the registries given by %s are allowed", registry, AllowedRegistriesFlag)
	return withDetails(apierrors.NewForbidden(dockerImageResource, ref, err).ErrStatus, ref)
}

// successStatus is the Status of an imported image.
func successStatus() metav1.Status {
	return metav1.Status{Status: metav1.StatusSuccess}
}
