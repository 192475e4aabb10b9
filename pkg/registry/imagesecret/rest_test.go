package imagesecret

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/warning"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

// fakeSource records what it was asked and answers list.
type fakeSource struct {
	list      *corev1.SecretList
	err       error
	namespace string
	opts      metav1.ListOptions
}

func (f *fakeSource) ListSecrets(_ context.Context, namespace string, opts metav1.ListOptions) (*corev1.SecretList, error) {
	f.namespace, f.opts = namespace, opts
	return f.list, f.err
}

func secret(name string, typ corev1.SecretType, annotations map[string]string) corev1.Secret {
	return corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Annotations: annotations, Labels: map[string]string{"name": name}},
		Type:       typ,
		Data:       map[string][]byte{"k": []byte(name)},
	}
}

// secrets is a namespace with one Secret of each kind that matters.
func secrets() []corev1.Secret {
	exclude := map[string]string{imagev1.ExcludeImageSecretAnnotation: "true"}
	return []corev1.Secret{
		secret("dockercfg", corev1.SecretTypeDockercfg, nil),
		secret("opaque", corev1.SecretTypeOpaque, nil),
		secret("dockerconfigjson", corev1.SecretTypeDockerConfigJson, nil),
		secret("excluded", corev1.SecretTypeDockerConfigJson, exclude),
		secret("not-excluded", corev1.SecretTypeDockercfg, map[string]string{imagev1.ExcludeImageSecretAnnotation: "false"}),
		secret("token", corev1.SecretTypeServiceAccountToken, nil),
		secret("basic-auth", corev1.SecretTypeBasicAuth, nil),
	}
}

func nsContext(ns string) context.Context {
	return genericapirequest.WithNamespace(context.Background(), ns)
}

func names(list *imagev1.SecretList) []string {
	var out []string
	for _, s := range list.Items {
		out = append(out, s.Name)
	}
	return out
}

func TestGetKeepsPullSecrets(t *testing.T) {
	src := &fakeSource{list: &corev1.SecretList{
		ListMeta: metav1.ListMeta{ResourceVersion: "42", Continue: "next"},
		Items:    secrets(),
	}}
	opts := &metav1.ListOptions{LabelSelector: "a=b", FieldSelector: "type=kubernetes.io/dockercfg", Limit: 5, Continue: "c"}
	obj, err := NewREST(src).Get(nsContext("ns"), "any-stream", opts)
	if err != nil {
		t.Fatal(err)
	}
	list := obj.(*imagev1.SecretList)
	if got, want := names(list), []string{"dockercfg", "dockerconfigjson", "not-excluded"}; !slices.Equal(got, want) {
		t.Errorf("items %v, want %v", got, want)
	}
	if list.ResourceVersion != "42" || list.Continue != "next" {
		t.Errorf("list metadata %+v, want the source's", list.ListMeta)
	}
	if string(list.Items[0].Data["k"]) != "dockercfg" {
		t.Errorf("secret data not returned: %v", list.Items[0].Data)
	}
	if src.namespace != "ns" || src.opts != *opts {
		t.Errorf("source asked for %q with %+v, want ns with %+v", src.namespace, src.opts, *opts)
	}
}

func TestGetBadRequests(t *testing.T) {
	tests := []struct {
		name string
		ctx  context.Context
		opts *metav1.ListOptions
	}{
		{"bad label selector", nsContext("ns"), &metav1.ListOptions{LabelSelector: "a in (b"}},
		{"bad field selector", nsContext("ns"), &metav1.ListOptions{FieldSelector: "a=b=c=="}},
		{"no namespace", context.Background(), &metav1.ListOptions{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := &fakeSource{list: &corev1.SecretList{}}
			if _, err := NewREST(src).Get(tc.ctx, "s", tc.opts); !apierrors.IsBadRequest(err) {
				t.Errorf("got %v, want 400", err)
			}
			if src.namespace != "" {
				t.Errorf("the source was asked")
			}
		})
	}
}

type recorder struct{ warnings []string }

func (r *recorder) AddWarning(_, text string) { r.warnings = append(r.warnings, text) }

func TestStandaloneIsEmptyWithWarning(t *testing.T) {
	rec := &recorder{}
	ctx := warning.WithWarningRecorder(nsContext("ns"), rec)
	obj, err := NewREST(nil).Get(ctx, "s", &metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if list := obj.(*imagev1.SecretList); list.Items == nil || len(list.Items) != 0 {
		t.Errorf("items %#v, want an empty, non-nil list", list.Items)
	}
	if !slices.Equal(rec.warnings, []string{StandaloneWarning}) {
		t.Errorf("warnings %q", rec.warnings)
	}
}

// TestKubeSecrets: the client applies the namespace and label selector; the filter applies
// after it.
func TestKubeSecrets(t *testing.T) {
	var objs []runtime.Object
	for _, s := range secrets() {
		objs = append(objs, s.DeepCopy())
	}
	other := secret("elsewhere", corev1.SecretTypeDockercfg, nil)
	other.Namespace = "other"
	objs = append(objs, &other)
	client := fake.NewClientset(objs...)
	rest := NewREST(NewKubeSecretsFor(client.CoreV1()))

	obj, err := rest.Get(nsContext("ns"), "s", &metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(obj.(*imagev1.SecretList)), []string{"dockercfg", "dockerconfigjson", "not-excluded"}; !slices.Equal(got, want) {
		t.Errorf("items %v, want %v", got, want)
	}
	obj, err = rest.Get(nsContext("ns"), "s", &metav1.ListOptions{LabelSelector: "name in (dockerconfigjson, opaque, excluded)"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(obj.(*imagev1.SecretList)), []string{"dockerconfigjson"}; !slices.Equal(got, want) {
		t.Errorf("with a label selector: items %v, want %v", got, want)
	}
}

// TestKubeErrors: what the caller gets when kube-apiserver's Secrets list fails.
func TestKubeErrors(t *testing.T) {
	secretsGR := schema.GroupResource{Resource: "secrets"}
	tests := []struct {
		name     string
		err      error
		wantCode int32
		wantMsg  string
	}{
		{"the server's identity is refused", apierrors.NewForbidden(secretsGR, "", errors.New(`User "system:serviceaccount:image-system:image-apiserver" cannot list resource "secrets"`)),
			http.StatusInternalServerError, "image-apiserver may not list the Secrets of namespace \"ns\" at kube-apiserver (its ServiceAccount needs `list secrets`"},
		{"the server's token is rejected", apierrors.NewUnauthorized("token expired"), http.StatusInternalServerError, "image-apiserver may not list the Secrets"},
		{"unreachable", errors.New("dial tcp 127.0.0.1:6443: connect: connection refused"), http.StatusServiceUnavailable,
			`image-apiserver could not list the Secrets of namespace "ns" at kube-apiserver: dial tcp`},
		{"kube-apiserver fails", apierrors.NewInternalError(errors.New("etcd down")), http.StatusServiceUnavailable, "etcd down"},
		{"bad selector for kube", apierrors.NewBadRequest("unable to parse requirement"), http.StatusBadRequest, "unable to parse requirement"},
		{"expired continue token", apierrors.NewResourceExpired("too old resource version"), http.StatusGone, "too old"},
		{"throttled", apierrors.NewTooManyRequests("slow down", 3), http.StatusTooManyRequests, "slow down"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			client.PrependReactor("list", "secrets", func(clienttesting.Action) (bool, runtime.Object, error) {
				return true, nil, tc.err
			})
			_, err := NewREST(NewKubeSecretsFor(client.CoreV1())).Get(nsContext("ns"), "stream", &metav1.ListOptions{})
			var se *apierrors.StatusError
			if !errors.As(err, &se) {
				t.Fatalf("got %T %v, want a status error", err, err)
			}
			st := se.ErrStatus
			if st.Code != tc.wantCode || !strings.Contains(st.Message, tc.wantMsg) {
				t.Errorf("got %d %q, want %d containing %q", st.Code, st.Message, tc.wantCode, tc.wantMsg)
			}
			if d := st.Details; d == nil || d.Group != imagev1.GroupName || d.Kind != "imagestreams" || d.Name != "stream" {
				t.Errorf("details %+v, want image.openshift.io imagestreams stream", d)
			}
		})
	}
}

func TestIsPullSecret(t *testing.T) {
	var got []string
	for _, s := range secrets() {
		if IsPullSecret(&s) {
			got = append(got, s.Name)
		}
	}
	if want := []string{"dockercfg", "dockerconfigjson", "not-excluded"}; !slices.Equal(got, want) {
		t.Errorf("pull secrets %v, want %v", got, want)
	}
}
