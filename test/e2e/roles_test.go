//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// rolesNamespace holds the example stream with its image, and two ServiceAccounts bound to
// the manifests' system:image-puller and system:image-pusher roles.
const rolesNamespace = "roles-e2e"

// untilAllowed retries call while kube-apiserver's RBAC has not seen a new RoleBinding yet
// (it learns of bindings through an informer), and returns call's last error.
func untilAllowed(t *testing.T, call func(ctx context.Context) error) error {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(testContext(t), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		last = call(ctx)
		return !apierrors.IsForbidden(last), nil
	})
	if err != nil {
		t.Fatalf("still forbidden 30s after the RoleBinding: %v", last)
	}
	return last
}

func bindServiceAccount(t *testing.T, name, clusterRole string) {
	t.Helper()
	kubectl(t, "admin", "", "create", "serviceaccount", name, "-n", rolesNamespace)
	kubectl(t, "admin", "", "create", "rolebinding", name, "--clusterrole="+clusterRole,
		"--serviceaccount="+rolesNamespace+":"+name, "-n", rolesNamespace)
}

// wantForbidden fails the test unless err is kube-apiserver's 403.
func wantForbidden(t *testing.T, what string, err error) {
	t.Helper()
	if !apierrors.IsForbidden(err) {
		t.Errorf("%s: %v, want Forbidden", what, err)
	}
}

// TestImageRoles: a RoleBinding of system:image-puller lets a ServiceAccount read
// imagestreams/layers (what the registry checks before serving a pull) and nothing else; one of
// system:image-pusher lets it push and tag, but not delete tags or read pull secrets.
func TestImageRoles(t *testing.T) {
	namespaceWithStream(t, rolesNamespace)
	kubectl(t, "admin", example(t, "mapping.yaml", rolesNamespace), "create", "-f", "-")
	bindServiceAccount(t, "puller", "system:image-puller")
	bindServiceAccount(t, "pusher", "system:image-pusher")
	ctx := testContext(t)

	for _, ct := range []string{"application/json", "application/vnd.kubernetes.protobuf"} {
		t.Run(ct, func(t *testing.T) {
			puller := serviceAccountClient(t, rolesNamespace, "puller", ct).ImageV1()
			var layers *imagev1.ImageStreamLayers
			err := untilAllowed(t, func(ctx context.Context) (err error) {
				layers, err = puller.ImageStreams(rolesNamespace).Layers(ctx, "origin-ruby-sample", metav1.GetOptions{})
				return err
			})
			if err != nil {
				t.Fatalf("the puller's layers: %v", err)
			}
			if _, ok := layers.Images[exampleImage]; !ok {
				t.Errorf("layers of the example stream lack its image: %+v", layers.Images)
			}
			_, err = puller.ImageStreams(rolesNamespace).Get(ctx, "origin-ruby-sample", metav1.GetOptions{})
			wantForbidden(t, "the puller gets the stream", err)
			_, err = puller.ImageStreamTags(rolesNamespace).Get(ctx, "origin-ruby-sample:latest", metav1.GetOptions{})
			wantForbidden(t, "the puller gets a tag", err)
			_, err = puller.ImageStreamImages(rolesNamespace).Get(ctx, "origin-ruby-sample@"+exampleImage, metav1.GetOptions{})
			wantForbidden(t, "the puller gets an imagestreamimage", err)
			_, err = puller.ImageStreams(rolesNamespace).Secrets(ctx, "origin-ruby-sample", metav1.GetOptions{})
			wantForbidden(t, "the puller reads pull secrets", err)
			_, err = puller.ImageStreamTags(rolesNamespace).Create(ctx, newTag("origin-ruby-sample:puller", "origin-ruby-sample:latest"), metav1.CreateOptions{})
			wantForbidden(t, "the puller tags", err)
			_, err = puller.Images().Get(ctx, exampleImage, metav1.GetOptions{})
			wantForbidden(t, "the puller gets an image", err)

			pusher := serviceAccountClient(t, rolesNamespace, "pusher", ct).ImageV1()
			tag := fmt.Sprintf("origin-ruby-sample:prod-%s", shortContentType(ct))
			var created *imagev1.ImageStreamTag
			err = untilAllowed(t, func(ctx context.Context) (err error) {
				created, err = pusher.ImageStreamTags(rolesNamespace).Create(ctx, newTag(tag, "origin-ruby-sample:latest"), metav1.CreateOptions{})
				return err
			})
			if err != nil {
				t.Fatalf("the pusher tags: %v", err)
			}
			if created.Image.Name != exampleImage {
				t.Errorf("the new tag points to %q, want %s", created.Image.Name, exampleImage)
			}
			updated := newTag(tag, "origin-ruby-sample:latest")
			updated.Annotations = map[string]string{"promoted-by": "pusher"}
			if _, err := pusher.ImageStreamTags(rolesNamespace).Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
				t.Errorf("the pusher updates its tag: %v", err)
			}
			wantForbidden(t, "the pusher deletes a tag", pusher.ImageStreamTags(rolesNamespace).Delete(ctx, tag, metav1.DeleteOptions{}))
			_, err = pusher.ImageStreams(rolesNamespace).Secrets(ctx, "origin-ruby-sample", metav1.GetOptions{})
			wantForbidden(t, "the pusher reads pull secrets", err)
		})
	}
}

func newTag(name, from string) *imagev1.ImageStreamTag {
	return &imagev1.ImageStreamTag{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Tag:        &imagev1.TagReference{From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: from}},
	}
}

func shortContentType(ct string) string {
	if ct == "application/json" {
		return "json"
	}
	return "protobuf"
}

// TestAutomaticImportsLease: behind kube-apiserver one replica at a time runs the automatic
// imports, holding a Lease in the server's namespace with the server's own identity (the
// manifests grant it exactly that Lease).
func TestAutomaticImportsLease(t *testing.T) {
	var holder string
	err := wait.PollUntilContextTimeout(testContext(t), 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		out, err := st.run(ctx, "admin", "", "get", "lease", "image-apiserver-automatic-imports", "-n", "image-system", "-o", "jsonpath={.spec.holderIdentity}")
		holder = out
		return err == nil && out != "", nil
	})
	if err != nil {
		t.Fatalf("no replica holds the automatic-imports Lease: %q", holder)
	}
}
