// Package imagesecret serves imagestreams/secrets: the pull secrets of a stream's namespace,
// which a registry uses to pull through from the stream's upstream repositories.
package imagesecret

import (
	"context"
	"errors"
	"fmt"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
)

// REST answers GET imagestreams/<name>/secrets with a SecretList of the namespace's
// kubernetes.io/dockercfg and kubernetes.io/dockerconfigjson Secrets, minus those annotated
// openshift.io/image.excludeSecret: "true". The query parameters are the list options of the
// Secret list. As in OpenShift, the stream name is ignored and the stream need not exist: the
// answer depends on the namespace only. Filtering happens after the list, so a page of a
// limited list may hold fewer items than the limit.
type REST struct {
	source SecretSource
}

var (
	_ rest.GetterWithOptions    = &REST{}
	_ rest.Storage              = &REST{}
	_ rest.Scoper               = &REST{}
	_ rest.SingularNameProvider = &REST{}
)

// NewREST returns the imagestreams/secrets storage. A nil source means there is no Secrets
// API (standalone): every answer is empty, with a warning.
func NewREST(source SecretSource) *REST {
	if source == nil {
		source = NoSecretsAPI{}
	}
	return &REST{source: source}
}

// New returns an empty SecretList.
func (r *REST) New() runtime.Object { return &imagev1.SecretList{} }

// Destroy does nothing.
func (r *REST) Destroy() {}

// NamespaceScoped is true, as image streams are.
func (r *REST) NamespaceScoped() bool { return true }

// GetSingularName returns "imagesecret", OpenShift's.
func (r *REST) GetSingularName() string { return "imagesecret" }

// NewGetOptions makes the query parameters decode as list options.
func (r *REST) NewGetOptions() (runtime.Object, bool, string) {
	return &metav1.ListOptions{}, false, ""
}

// Get lists the namespace's pull secrets.
func (r *REST) Get(ctx context.Context, name string, options runtime.Object) (runtime.Object, error) {
	opts, ok := options.(*metav1.ListOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("unexpected options %T", options))
	}
	ns, ok := genericapirequest.NamespaceFrom(ctx)
	if !ok || ns == "" {
		return nil, apierrors.NewBadRequest("imagestreams/secrets needs a namespace")
	}
	// Checked here so that a bad selector is the same 400 whichever source answers.
	if _, err := labels.Parse(opts.LabelSelector); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("labelSelector %q: %v", opts.LabelSelector, err))
	}
	if _, err := fields.ParseSelector(opts.FieldSelector); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("fieldSelector %q: %v", opts.FieldSelector, err))
	}
	list, err := r.source.ListSecrets(ctx, ns, *opts)
	if err != nil {
		return nil, withDetails(err, name)
	}
	out := &imagev1.SecretList{ListMeta: list.ListMeta, Items: make([]corev1.Secret, 0, len(list.Items))}
	for i := range list.Items {
		if IsPullSecret(&list.Items[i]) {
			out.Items = append(out.Items, list.Items[i])
		}
	}
	return out, nil
}

// IsPullSecret reports whether a registry may pull with s: a docker config Secret that is not
// excluded with the annotation openshift.io/image.excludeSecret: "true".
func IsPullSecret(s *corev1.Secret) bool {
	if s.Annotations[imagev1.ExcludeImageSecretAnnotation] == "true" {
		return false
	}
	return s.Type == corev1.SecretTypeDockercfg || s.Type == corev1.SecretTypeDockerConfigJson
}

// withDetails names the stream's subresource in a status error that names nothing yet, so that
// every error says what was asked for.
func withDetails(err error, name string) error {
	var se *apierrors.StatusError
	if !errors.As(err, &se) {
		return apierrors.NewInternalError(err)
	}
	if se.ErrStatus.Details == nil {
		se.ErrStatus.Details = &metav1.StatusDetails{}
	}
	if d := se.ErrStatus.Details; d.Kind == "" {
		d.Group, d.Kind, d.Name = imagev1.GroupName, "imagestreams", name
	}
	return err
}

// PullSecrets keeps the secrets that imagestreams/secrets would list: the pull secrets not
// excluded.
func PullSecrets(secrets []corev1.Secret) []corev1.Secret {
	var out []corev1.Secret
	for i := range secrets {
		if IsPullSecret(&secrets[i]) {
			out = append(out, secrets[i])
		}
	}
	return out
}
