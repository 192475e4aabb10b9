//go:build e2e

package e2e

import (
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// privateRegistry is an OCI registry on loopback that answers only to user:password.
func privateRegistry(t *testing.T, user, password string) string {
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="e2e"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestImportWithPullSecrets: behind kube-apiserver, an ImageStreamImport reads a private
// registry with the namespace's pull secret, which the server reads with its own identity;
// in a namespace without the secret the same import is that image's 401, in a 201.
func TestImportWithPullSecrets(t *testing.T) {
	const user, password = "puller", "s3cret"
	host := privateRegistry(t, user, password)
	ref, err := name.ParseReference(host+"/e2e/app:1.0", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: user, Password: password})); err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()

	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	kubectl(t, "admin", fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: import-e2e}
---
apiVersion: v1
kind: Namespace
metadata: {name: import-e2e-nocreds}
---
apiVersion: v1
kind: Secret
metadata: {name: registry, namespace: import-e2e}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '{"auths":{"%s":{"auth":"%s"}}}'
`, host, auth), "apply", "-f", "-")

	c := adminImageClient(t)
	isi := func() *imagev1.ImageStreamImport {
		return &imagev1.ImageStreamImport{
			ObjectMeta: metav1.ObjectMeta{Name: "app"},
			Spec: imagev1.ImageStreamImportSpec{Import: true, Images: []imagev1.ImageImportSpec{{
				From:         corev1.ObjectReference{Kind: "DockerImage", Name: host + "/e2e/app:1.0"},
				ImportPolicy: imagev1.TagImportPolicy{Insecure: true},
			}}},
		}
	}
	got, err := c.ImageV1().ImageStreamImports("import-e2e").Create(testContext(t), isi(), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st := got.Status.Images[0]; st.Status.Status != metav1.StatusSuccess || st.Image == nil || st.Image.Name != digest.String() {
		t.Fatalf("import with the namespace's pull secret: %+v", st.Status)
	}
	stream, err := c.ImageV1().ImageStreams("import-e2e").Get(testContext(t), "app", metav1.GetOptions{})
	if err != nil || len(stream.Status.Tags) != 1 || stream.Status.Tags[0].Items[0].Image != digest.String() {
		t.Errorf("imported stream: %v %+v", err, stream.Status)
	}

	denied, err := c.ImageV1().ImageStreamImports("import-e2e-nocreds").Create(testContext(t), isi(), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st := denied.Status.Images[0].Status; st.Code != http.StatusUnauthorized {
		t.Errorf("import without a pull secret: %+v, want 401", st)
	}
}
