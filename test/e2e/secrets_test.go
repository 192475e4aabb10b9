//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// pullSecretsNamespace has one Secret of each kind that matters to imagestreams/secrets, and
// a ServiceAccount allowed only `get imagestreams/secrets` (pullSecretsFixture; applying it
// again changes nothing).
const pullSecretsNamespace = "secrets-e2e"

const pullSecretsFixture = `apiVersion: v1
kind: Namespace
metadata:
  name: secrets-e2e
---
apiVersion: v1
kind: Secret
metadata:
  name: dockercfg
  namespace: secrets-e2e
  labels: {app: a}
type: kubernetes.io/dockercfg
stringData:
  .dockercfg: '{"registry.example.com":{"auth":"dXNlcjpwYXNz"}}'
---
apiVersion: v1
kind: Secret
metadata:
  name: dockerconfigjson
  namespace: secrets-e2e
  labels: {app: b}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '{"auths":{"quay.io":{"auth":"dXNlcjpwYXNz"}}}'
---
apiVersion: v1
kind: Secret
metadata:
  name: excluded
  namespace: secrets-e2e
  labels: {app: b}
  annotations:
    openshift.io/image.excludeSecret: "true"
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '{"auths":{"excluded.example.com":{"auth":"eDp5"}}}'
---
apiVersion: v1
kind: Secret
metadata:
  name: opaque
  namespace: secrets-e2e
  labels: {app: b}
type: Opaque
stringData:
  password: hunter2
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: puller
  namespace: secrets-e2e
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: pull-secrets-only
  namespace: secrets-e2e
rules:
- apiGroups: [image.openshift.io]
  resources: [imagestreams/secrets]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: puller-pull-secrets-only
  namespace: secrets-e2e
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: pull-secrets-only
subjects:
- kind: ServiceAccount
  name: puller
  namespace: secrets-e2e
`

// serviceAccountClient writes a kubeconfig for a ServiceAccount token (registered as user
// "<ns>:<name>" for kubectl) and returns an image client speaking contentType through
// kube-apiserver.
func serviceAccountClient(t *testing.T, ns, name, contentType string) imageclient.Interface {
	t.Helper()
	user := ns + ":" + name
	if _, ok := st.kubeconfigs[user]; !ok {
		token := strings.TrimSpace(kubectl(t, "admin", "", "create", "token", name, "-n", ns))
		path := filepath.Join(st.dir, ns+"-"+name+".kubeconfig")
		if err := writeKubeconfig(path, st.kubeURL, st.pki.kubeCA.certPEM, &clientcmdapi.AuthInfo{Token: token}); err != nil {
			t.Fatal(err)
		}
		st.kubeconfigs[user] = path
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", st.kubeconfigs[user])
	if err != nil {
		t.Fatal(err)
	}
	cfg.ContentType, cfg.AcceptContentTypes = contentType, contentType
	client, err := imageclient.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func secretNames(list *imagev1.SecretList) []string {
	var names []string
	for _, s := range list.Items {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}

// pullSecrets GETs imagestreams/<stream>/secrets with a label selector ("" for none).
func pullSecrets(ctx context.Context, client imageclient.Interface, stream, selector string) (*imagev1.SecretList, error) {
	list := &imagev1.SecretList{}
	req := client.ImageV1().RESTClient().Get().Namespace(pullSecretsNamespace).Resource("imagestreams").Name(stream).SubResource("secrets")
	if selector != "" {
		req = req.Param("labelSelector", selector)
	}
	return list, req.Do(ctx).Into(list)
}

// TestImageStreamSecrets: a ServiceAccount allowed only `get imagestreams/secrets`, with no
// access to Secrets at all, gets exactly the namespace's two pull secrets, data included: the
// server reads them with its own identity. Through kube-apiserver, JSON and protobuf.
func TestImageStreamSecrets(t *testing.T) {
	kubectl(t, "admin", pullSecretsFixture, "apply", "-f", "-")
	puller := "system:serviceaccount:" + pullSecretsNamespace + ":puller"
	for _, verb := range []string{"get", "list", "watch"} {
		if out, _ := st.run(testContext(t), "admin", "", "auth", "can-i", verb, "secrets", "-n", pullSecretsNamespace, "--as="+puller); strings.TrimSpace(out) != "no" {
			t.Fatalf("the puller may %s secrets (%q): the test would prove nothing", verb, out)
		}
	}

	for _, ct := range []string{"application/json", "application/vnd.kubernetes.protobuf"} {
		t.Run(ct, func(t *testing.T) {
			client := serviceAccountClient(t, pullSecretsNamespace, "puller", ct)
			var list *imagev1.SecretList
			// kube-apiserver's RBAC sees the new RoleBinding through an informer: retry 403s only.
			err := wait.PollUntilContextTimeout(testContext(t), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
				var err error
				list, err = client.ImageV1().ImageStreams(pullSecretsNamespace).Secrets(ctx, "no-such-stream", metav1.GetOptions{})
				if apierrors.IsForbidden(err) {
					return false, nil
				}
				return true, err
			})
			if err != nil {
				t.Fatalf("the puller's imagestreams/secrets: %v", err)
			}
			if got := secretNames(list); !slices.Equal(got, []string{"dockercfg", "dockerconfigjson"}) {
				t.Fatalf("secrets %v, want [dockercfg dockerconfigjson]", got)
			}
			if list.ResourceVersion == "" {
				t.Errorf("the list has no resourceVersion")
			}
			for _, s := range list.Items {
				key := "." + strings.TrimPrefix(string(s.Type), "kubernetes.io/")
				if len(s.Data[key]) == 0 || s.Namespace != pullSecretsNamespace {
					t.Errorf("secret %s: data %v, namespace %q; want %s and namespace %s", s.Name, s.Data, s.Namespace, key, pullSecretsNamespace)
				}
			}

			// A label selector applies to the Secret list; the filter applies after it.
			list, err = pullSecrets(testContext(t), client, "app", "app=b")
			if err != nil {
				t.Fatal(err)
			}
			if got := secretNames(list); !slices.Equal(got, []string{"dockerconfigjson"}) {
				t.Errorf("app=b: %v, want [dockerconfigjson]", got)
			}
			list, err = pullSecrets(testContext(t), client, "app", "app=none")
			if err != nil || len(list.Items) != 0 {
				t.Errorf("app=none: %v, %v; want nothing", list, err)
			}
		})
	}

	// The puller itself still cannot read Secrets.
	out := kubectlFails(t, pullSecretsNamespace+":puller", "", "get", "secret", "dockercfg", "-n", pullSecretsNamespace)
	wantContains(t, "puller gets a secret", out, "Forbidden", `cannot get resource "secrets"`)
	out = kubectlFails(t, pullSecretsNamespace+":puller", "", "get", "secrets", "-n", pullSecretsNamespace)
	wantContains(t, "puller lists secrets", out, "Forbidden", `cannot list resource "secrets"`)
	// Nor may it do anything else with image streams.
	out = kubectlFails(t, pullSecretsNamespace+":puller", "", "get", "imagestreams", "-n", pullSecretsNamespace)
	wantContains(t, "puller lists streams", out, "Forbidden")
}

// TestServerSecretPermissions: the server's ServiceAccount, with the manifests' RBAC, may list
// Secrets in every namespace and do nothing else with them or with other namespaced objects.
func TestServerSecretPermissions(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"list", "secrets", "--all-namespaces"}, "yes"},
		{[]string{"list", "secrets", "-n", "default"}, "yes"},
		{[]string{"get", "secrets", "-n", "default"}, "no"},
		{[]string{"watch", "secrets", "--all-namespaces"}, "no"},
		{[]string{"create", "secrets", "-n", "default"}, "no"},
		{[]string{"update", "secrets", "-n", "default"}, "no"},
		{[]string{"delete", "secrets", "-n", "default"}, "no"},
		{[]string{"list", "configmaps", "-n", "default"}, "no"},
		{[]string{"list", "pods", "--all-namespaces"}, "no"},
		{[]string{"get", "serviceaccounts", "-n", serverNamespace}, "no"},
		{[]string{"create", "serviceaccounts", "--subresource=token", "-n", serverNamespace}, "no"},
	}
	for _, tc := range tests {
		out, _ := st.run(testContext(t), "image-apiserver", "", append([]string{"auth", "can-i"}, tc.args...)...)
		if got := strings.TrimSpace(out); got != tc.want {
			t.Errorf("image-apiserver can-i %s: %q, want %q", strings.Join(tc.args, " "), got, tc.want)
		}
	}
	// And for real: listing works, reading one Secret by name does not.
	kubectl(t, "image-apiserver", "", "get", "secrets", "-n", "default")
	out := kubectlFails(t, "image-apiserver", "", "get", "secret", "anything", "-n", "default")
	wantContains(t, "server gets a secret", out, "Forbidden", `cannot get resource "secrets"`)
}

// TestImageStreamSecretsWithoutServerRBAC: without the server's ClusterRoleBinding the answer
// is a 500 that says the server lacks `list secrets` (not a 403 that would blame the caller),
// and it works again once the binding is back: the server reads with its own identity, never
// the caller's.
func TestImageStreamSecretsWithoutServerRBAC(t *testing.T) {
	const binding = "image-apiserver:pull-secrets-lister"
	kubectl(t, "admin", pullSecretsFixture, "apply", "-f", "-")
	manifest := kubectl(t, "admin", "", "get", "clusterrolebinding", binding, "-o", "yaml")
	kubectl(t, "admin", "", "delete", "clusterrolebinding", binding)
	restored := false
	restore := func() {
		if !restored {
			restored = true
			out, err := st.run(context.Background(), "admin", "", "create", "clusterrolebinding", binding, "--clusterrole="+binding, "--serviceaccount="+serverNamespace+":image-apiserver")
			if err != nil {
				t.Errorf("restoring %s: %v\n%s", binding, err, out)
			}
		}
	}
	t.Cleanup(restore)
	if !strings.Contains(manifest, "name: image-apiserver") {
		t.Fatalf("the binding was not the server's:\n%s", manifest)
	}

	admin := adminImageClient(t)
	var last error
	err := wait.PollUntilContextTimeout(testContext(t), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, last = pullSecrets(ctx, admin, "app", "")
		return last != nil, nil
	})
	if err != nil {
		t.Fatalf("still served 30s after the server's binding was deleted: %v", last)
	}
	var se *apierrors.StatusError
	if !errors.As(last, &se) || se.ErrStatus.Code != 500 || !strings.Contains(se.ErrStatus.Message, "image-apiserver may not list the Secrets of namespace \""+pullSecretsNamespace+"\"") ||
		se.ErrStatus.Details == nil || se.ErrStatus.Details.Kind != "imagestreams" || se.ErrStatus.Details.Name != "app" {
		t.Errorf("without the server's RBAC: %v (%+v), want a 500 saying the server may not list Secrets", last, se)
	}

	restore()
	err = wait.PollUntilContextTimeout(testContext(t), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var list *imagev1.SecretList
		list, last = pullSecrets(ctx, admin, "app", "")
		return last == nil && len(list.Items) == 2, nil
	})
	if err != nil {
		t.Fatalf("not served again 30s after the binding was restored: %v", last)
	}
}

// adminImageClient is an image client as the cluster admin, through kube-apiserver.
func adminImageClient(t *testing.T) imageclient.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", st.kubeconfigs["admin"])
	if err != nil {
		t.Fatal(err)
	}
	client, err := imageclient.NewForConfig(cfg)
	if err != nil {
		t.Fatal(fmt.Errorf("image client: %w", err))
	}
	return client
}
