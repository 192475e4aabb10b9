package importer

import (
	"context"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/authn/kubernetes"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// KeychainFromSecrets returns the credentials of a namespace's pull secrets
// (kubernetes.io/dockerconfigjson and kubernetes.io/dockercfg; other types are ignored). For a
// registry, the most specific entry (host/path before host) wins and its first credentials are
// used, as kubelet and OpenShift do. A secret that cannot be parsed is skipped and logged: one
// broken secret must not stop the imports that the others allow.
func KeychainFromSecrets(ctx context.Context, secrets []corev1.Secret) (authn.Keychain, error) {
	usable := make([]corev1.Secret, 0, len(secrets))
	for _, s := range secrets {
		if _, err := kubernetes.NewFromPullSecrets(ctx, []corev1.Secret{s}); err != nil {
			klog.FromContext(ctx).Info("Ignoring an unreadable pull secret for image import", "namespace", s.Namespace, "name", s.Name, "err", err)
			continue
		}
		usable = append(usable, s)
	}
	return kubernetes.NewFromPullSecrets(ctx, usable)
}

// KeychainFromDockerConfigFile returns the credentials of a docker config.json file, for a
// server without a Kubernetes Secrets API. The file is read as a kubernetes.io/dockerconfigjson
// Secret would be, so that both modes match registries the same way; credential helpers
// (credsStore, credHelpers) are not run.
func KeychainFromDockerConfigFile(path string) (authn.Keychain, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("registry credentials: %w", err)
	}
	secret := corev1.Secret{
		Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: data},
	}
	kc, err := kubernetes.NewFromPullSecrets(context.Background(), []corev1.Secret{secret})
	if err != nil {
		return nil, fmt.Errorf("registry credentials in %s: %w", path, err)
	}
	return kc, nil
}
