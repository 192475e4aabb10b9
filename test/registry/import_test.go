package registry

import (
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

// TestImportWithCredentials: ImageStreamImport from a real registry that requires a login
// (htpasswd) succeeds with the credentials of --import-docker-config, and without them or
// with a wrong password is that image's 401 inside the request's 201, with nothing imported.
func TestImportWithCredentials(t *testing.T) {
	const user, password = "puller", "pull-s3cret"
	reg := startRegistry(t, registryOptions{user: user, password: password})
	img := reg.push("private/app:1.0")
	digest := digestOf(t, img)
	pullSpec := reg.host + "/private/app:1.0"
	// StartServer allows imports from loopback registries only, which is where this one is.
	withCreds := framework.StartServer(t, framework.Options{ExtraArgs: []string{"--import-docker-config", reg.dockerConfig(user, password)}})
	withoutCreds := framework.StartServer(t, framework.Options{})
	wrongCreds := framework.StartServer(t, framework.Options{ExtraArgs: []string{"--import-docker-config", reg.dockerConfig(user, "wrong")}})
	ctx := testContext(t)

	for _, ct := range framework.ContentTypes {
		c := withCreds.ImageClient(ct).ImageV1()
		ns := "creds-" + shortName(ct)
		isi, err := c.ImageStreamImports(ns).Create(ctx, importOf("app", pullSpec), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st := isi.Status.Images[0]; st.Status.Status != metav1.StatusSuccess || st.Image == nil || st.Image.Name != digest || st.Tag != "1.0" {
			t.Fatalf("%s: import status %+v", ct, st.Status)
		}
		wantRef := reg.host + "/private/app@" + digest
		stream, err := c.ImageStreams(ns).Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if head := imageutil.LatestTagEvent(stream, "1.0"); head == nil || head.Image != digest || head.DockerImageReference != wantRef {
			t.Errorf("%s: tag 1.0: %+v", ct, head)
		}
		image, err := c.Images().Get(ctx, digest, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checkImage(t, image, wantRef, img)
	}

	// Without credentials, and with a wrong password (after which the server retries once
	// anonymously, as OpenShift does): the entry's 401, nothing imported.
	for what, s := range map[string]*framework.Server{"without credentials": withoutCreds, "with a wrong password": wrongCreds} {
		c := s.ImageClient(framework.ContentTypes[0]).ImageV1()
		isi, err := c.ImageStreamImports("nocreds").Create(ctx, importOf("app", pullSpec), metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("import %s: %v", what, err)
		}
		if st := isi.Status.Images[0].Status; st.Status != metav1.StatusFailure || st.Code != 401 || st.Reason != metav1.StatusReasonUnauthorized {
			t.Errorf("import %s: %+v", what, st)
		}
		if _, err := c.Images().Get(ctx, digest, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("an import %s created the image: %v", what, err)
		}
		if stream, err := c.ImageStreams("nocreds").Get(ctx, "app", metav1.GetOptions{}); err == nil && imageutil.LatestTagEvent(stream, "1.0") != nil {
			t.Errorf("an import %s tagged an image: %+v", what, stream.Status.Tags)
		}
	}
}

// importOf imports pullSpec into stream; the registry serves plain HTTP, hence insecure.
func importOf(stream, pullSpec string) *imagev1.ImageStreamImport {
	return &imagev1.ImageStreamImport{
		ObjectMeta: metav1.ObjectMeta{Name: stream},
		Spec: imagev1.ImageStreamImportSpec{Import: true, Images: []imagev1.ImageImportSpec{{
			From:         corev1.ObjectReference{Kind: "DockerImage", Name: pullSpec},
			ImportPolicy: imagev1.TagImportPolicy{Insecure: true},
		}}},
	}
}

func shortName(contentType string) string {
	if contentType == "application/json" {
		return "json"
	}
	return "proto"
}
