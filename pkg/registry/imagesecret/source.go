package imagesecret

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/warning"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	restclient "k8s.io/client-go/rest"
)

// SecretSource lists the Secrets of a namespace that image pulls may use. Its answer is
// filtered to pull secrets by the REST; a source only applies opts.
type SecretSource interface {
	ListSecrets(ctx context.Context, namespace string, opts metav1.ListOptions) (*corev1.SecretList, error)
}

// NoSecretsAPI is the source of a standalone server: there is no Kubernetes Secrets API, so
// every list is empty, with a warning saying why.
type NoSecretsAPI struct{}

// StandaloneWarning is the warning every answer of NoSecretsAPI carries.
const StandaloneWarning = "image-apiserver runs standalone, without a Kubernetes Secrets API: imagestreams/secrets is always empty"

// ListSecrets returns an empty list and adds StandaloneWarning to the response.
func (NoSecretsAPI) ListSecrets(ctx context.Context, _ string, _ metav1.ListOptions) (*corev1.SecretList, error) {
	warning.AddWarning(ctx, "", StandaloneWarning)
	return &corev1.SecretList{}, nil
}

// KubeSecrets lists Secrets from kube-apiserver with the server's own identity, not the
// caller's: a caller needs only `get imagestreams/secrets`, never access to Secrets, which is
// what lets a registry pull with a namespace's pull secrets on its users' behalf.
type KubeSecrets struct {
	client corev1client.SecretsGetter
}

// Rate limits of the Secrets client. client-go's defaults (5 per second, bursts of 10) would
// queue a registry's pulls behind each other; every pull-through reads the secrets once.
const (
	kubeQPS   = 50
	kubeBurst = 100
)

// NewKubeSecrets returns a source reading Secrets with config, the server's own kube-apiserver
// client configuration (its ServiceAccount in a cluster, or --kubeconfig).
func NewKubeSecrets(config *restclient.Config) (*KubeSecrets, error) {
	config = restclient.CopyConfig(config)
	if config.QPS == 0 {
		config.QPS = kubeQPS
	}
	if config.Burst == 0 {
		config.Burst = kubeBurst
	}
	config.UserAgent = restclient.DefaultKubernetesUserAgent() + " imagestreams-secrets"
	client, err := corev1client.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("Secrets client: %w", err)
	}
	return &KubeSecrets{client: client}, nil
}

// NewKubeSecretsFor returns a source using client; for tests.
func NewKubeSecretsFor(client corev1client.SecretsGetter) *KubeSecrets {
	return &KubeSecrets{client: client}
}

// ListSecrets lists the namespace's Secrets with opts. Errors say what failed in terms of this
// server (see kubeError).
func (k *KubeSecrets) ListSecrets(ctx context.Context, namespace string, opts metav1.ListOptions) (*corev1.SecretList, error) {
	list, err := k.client.Secrets(namespace).List(ctx, opts)
	if err != nil {
		return nil, kubeError(namespace, err)
	}
	return list, nil
}

// kubeError turns a failure of kube-apiserver's Secrets list into the error our caller gets.
// What the caller did wrong (a bad selector, an expired continue token, too many requests)
// keeps its code. A refusal of the server's own identity must not reach the caller as a 403 or
// 401, which would say that the caller lacks a permission: it is the server's deployment that
// lacks one, a 500 that says which. Anything else (unreachable, timeouts, kube-apiserver's
// own errors) is a 503: worth retrying.
func kubeError(namespace string, err error) error {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		switch status.Status().Reason {
		case metav1.StatusReasonBadRequest, metav1.StatusReasonInvalid, metav1.StatusReasonExpired,
			metav1.StatusReasonGone, metav1.StatusReasonTooManyRequests:
			return err
		case metav1.StatusReasonForbidden, metav1.StatusReasonUnauthorized:
			return apierrors.NewInternalError(fmt.Errorf(
				"image-apiserver may not list the Secrets of namespace %q at kube-apiserver (its ServiceAccount needs `list secrets`, see the manifests' RBAC): %v",
				namespace, status.Status().Message))
		}
	}
	return apierrors.NewServiceUnavailable(fmt.Sprintf("image-apiserver could not list the Secrets of namespace %q at kube-apiserver: %v", namespace, err))
}
