package imagesignature_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
	imageregistry "github.com/image-apiserver/image-apiserver/pkg/registry/image"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagesignature"
	"github.com/image-apiserver/image-apiserver/pkg/registry/registrytest"
)

const imageName = "sha256:0000000000000000000000000000000000000000000000000000000000000001"

type env struct {
	images     *imageregistry.REST
	signatures *imagesignature.REST
}

// newEnv starts an etcd and stores one image with labels, annotations and layers, so that
// tests can check that a signature write changes nothing else.
func newEnv(t *testing.T) *env {
	t.Helper()
	storage := registrytest.NewStorage(t)
	images, err := imageregistry.NewREST(apiserver.Scheme, storage)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(images.Destroy)
	img := &imagev1.Image{
		ObjectMeta:           metav1.ObjectMeta{Name: imageName, Labels: map[string]string{"team": "a"}, Annotations: map[string]string{"note": "kept"}},
		DockerImageReference: "registry.example.com/ns/app@" + imageName,
		DockerImageLayers:    []imagev1.ImageLayer{{Name: "sha256:aa", LayerSize: 3, MediaType: "application/vnd.oci.image.layer.v1.tar"}},
	}
	if _, err := images.Create(ctx(t), img, nil, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return &env{images: images, signatures: imagesignature.NewREST(apiserver.Scheme, images.Store)}
}

func ctx(t *testing.T) context.Context {
	return genericapirequest.WithNamespace(t.Context(), metav1.NamespaceNone)
}

func (e *env) image(t *testing.T) *imagev1.Image {
	t.Helper()
	obj, err := e.images.Get(ctx(t), imageName, &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*imagev1.Image)
}

func signature(name, content string) *imagev1.ImageSignature {
	return &imagev1.ImageSignature{
		ObjectMeta: metav1.ObjectMeta{Name: imageName + "@" + name},
		Type:       imagev1.ImageSignatureTypeAtomicImageV1,
		Content:    []byte(content),
	}
}

func (e *env) create(t *testing.T, sig *imagev1.ImageSignature, opts *metav1.CreateOptions) (*imagev1.ImageSignature, error) {
	t.Helper()
	if opts == nil {
		opts = &metav1.CreateOptions{}
	}
	obj, err := e.signatures.Create(ctx(t), sig, nil, opts)
	if err != nil {
		return nil, err
	}
	return obj.(*imagev1.ImageSignature), nil
}

// withoutSignatures is img with what a signature write may change cleared.
func withoutSignatures(img *imagev1.Image) string {
	img = img.DeepCopy()
	img.Signatures, img.ResourceVersion = nil, ""
	return img.String()
}

func TestCreate(t *testing.T) {
	e := newEnv(t)
	before := e.image(t)
	in := signature("s1", "one")
	in.ImageIdentity = "quay.io/forged" // only a verifier sets it: cleared, not refused
	got, err := e.create(t, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != imageName+"@s1" || got.UID == "" || got.CreationTimestamp.IsZero() || got.ImageIdentity != "" || string(got.Content) != "one" {
		t.Errorf("created %s", got)
	}
	after := e.image(t)
	if len(after.Signatures) != 1 || after.Signatures[0].String() != got.String() {
		t.Errorf("stored signatures %v, want [%s]", after.Signatures, got)
	}
	if withoutSignatures(after) != withoutSignatures(before) {
		t.Errorf("the image changed beyond its signatures:\n%s\nwas\n%s", after, before)
	}

	// Same type, other content: a second signature.
	if _, err := e.create(t, signature("s2", "two"), nil); err != nil {
		t.Fatal(err)
	}
	// generateName "<image>@<prefix>" gets a suffix.
	gen := signature("", "three")
	gen.Name, gen.GenerateName = "", imageName+"@gen-"
	if got, err := e.create(t, gen, nil); err != nil || !strings.HasPrefix(got.Name, imageName+"@gen-") || len(got.Name) <= len(gen.GenerateName) {
		t.Errorf("generateName: %v, %v", got, err)
	}
	if n := len(e.image(t).Signatures); n != 3 {
		t.Errorf("%d signatures, want 3", n)
	}
}

func TestCreateErrors(t *testing.T) {
	e := newEnv(t)
	if _, err := e.create(t, signature("s1", "one"), nil); err != nil {
		t.Fatal(err)
	}
	rv := e.image(t).ResourceVersion
	otherType := signature("s3", "one")
	otherType.Type = "other"

	tests := []struct {
		name   string
		sig    *imagev1.ImageSignature
		check  func(error) bool
		detail string // details.kind/name
	}{
		{"duplicate name", signature("s1", "other content"), apierrors.IsAlreadyExists, "imagesignatures/" + imageName + "@s1"},
		{"duplicate type and content", signature("s2", "one"), apierrors.IsAlreadyExists, "imagesignatures/" + imageName + "@s2"},
		{"missing image", &imagev1.ImageSignature{
			ObjectMeta: metav1.ObjectMeta{Name: "sha256:" + strings.Repeat("f", 64) + "@s"}, Type: "atomic", Content: []byte("x"),
		}, apierrors.IsNotFound, "images/sha256:" + strings.Repeat("f", 64)},
		{"invalid", &imagev1.ImageSignature{ObjectMeta: metav1.ObjectMeta{Name: imageName}}, apierrors.IsInvalid, "ImageSignature/" + imageName},
		{"too large for etcd", signature("big", strings.Repeat("x", 2<<20)), apierrors.IsRequestEntityTooLargeError, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.create(t, tc.sig, nil)
			if !tc.check(err) {
				t.Fatalf("got %v", err)
			}
			if tc.detail != "" {
				d := err.(apierrors.APIStatus).Status().Details
				if d == nil || d.Kind+"/"+d.Name != tc.detail {
					t.Errorf("details %+v, want %s", d, tc.detail)
				}
			}
		})
	}
	// Another type with the same content is not a duplicate.
	if _, err := e.create(t, otherType, nil); err != nil {
		t.Errorf("other type, same content: %v", err)
	}
	if img := e.image(t); len(img.Signatures) != 2 || img.ResourceVersion == rv {
		t.Errorf("after the failures and one success: %d signatures (want 2), resourceVersion %s (was %s)", len(img.Signatures), img.ResourceVersion, rv)
	}
}

func TestInvalidFieldPaths(t *testing.T) {
	e := newEnv(t)
	bad := &imagev1.ImageSignature{ObjectMeta: metav1.ObjectMeta{Name: "nope", Labels: map[string]string{"a": "b"}}}
	_, err := e.create(t, bad, nil)
	var se *apierrors.StatusError
	if !errors.As(err, &se) || se.ErrStatus.Code != 422 {
		t.Fatalf("got %v, want 422", err)
	}
	var fields []string
	for _, c := range se.ErrStatus.Details.Causes {
		fields = append(fields, c.Field)
	}
	if got := strings.Join(fields, ","); got != "metadata.labels,metadata.name,type,content" {
		t.Errorf("fields %s", got)
	}
	if !strings.Contains(err.Error(), "name must be of format <imageName>@<signatureName>") {
		t.Errorf("message %q lacks the expected form", err)
	}
}

func TestAdmissionRefusal(t *testing.T) {
	e := newEnv(t)
	refuse := func(context.Context, runtime.Object) error {
		return apierrors.NewForbidden(imagev1.Resource("imagesignatures"), "x", errors.New("no"))
	}
	if _, err := e.signatures.Create(ctx(t), signature("s", "c"), refuse, &metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("create with a refusing admission: %v", err)
	}
	if n := len(e.image(t).Signatures); n != 0 {
		t.Fatalf("refused create stored %d signatures", n)
	}
	if _, err := e.create(t, signature("s", "c"), nil); err != nil {
		t.Fatal(err)
	}
	var seen string
	refuseDelete := func(_ context.Context, obj runtime.Object) error {
		seen = obj.(*imagev1.ImageSignature).Name
		return apierrors.NewForbidden(imagev1.Resource("imagesignatures"), seen, errors.New("no"))
	}
	if _, _, err := e.signatures.Delete(ctx(t), imageName+"@s", refuseDelete, &metav1.DeleteOptions{}); !apierrors.IsForbidden(err) || seen != imageName+"@s" {
		t.Fatalf("delete with a refusing admission: %v (it saw %q)", err, seen)
	}
	if n := len(e.image(t).Signatures); n != 1 {
		t.Fatalf("refused delete left %d signatures", n)
	}
}

func TestDryRun(t *testing.T) {
	e := newEnv(t)
	before := e.image(t)
	dry := &metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	got, err := e.create(t, signature("s", "c"), dry)
	if err != nil || got.Name != imageName+"@s" {
		t.Fatalf("dry-run create: %v, %v", got, err)
	}
	if after := e.image(t); after.ResourceVersion != before.ResourceVersion || len(after.Signatures) != 0 {
		t.Fatalf("dry-run create wrote: rv %s -> %s, %d signatures", before.ResourceVersion, after.ResourceVersion, len(after.Signatures))
	}
	// A dry run still finds duplicates.
	if _, err := e.create(t, signature("s", "c"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.create(t, signature("s", "d"), dry); !apierrors.IsAlreadyExists(err) {
		t.Errorf("dry-run duplicate: %v", err)
	}
	stored := e.image(t)
	if _, _, err := e.signatures.Delete(ctx(t), imageName+"@s", nil, &metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	if after := e.image(t); after.ResourceVersion != stored.ResourceVersion || len(after.Signatures) != 1 {
		t.Fatalf("dry-run delete wrote: rv %s -> %s, %d signatures", stored.ResourceVersion, after.ResourceVersion, len(after.Signatures))
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	before := e.image(t)
	var uid types.UID
	for _, n := range []string{"a", "b", "c"} {
		sig, err := e.create(t, signature(n, n), nil)
		if err != nil {
			t.Fatal(err)
		}
		if n == "b" {
			uid = sig.UID
		}
	}
	other := types.UID("other")
	if _, _, err := e.signatures.Delete(ctx(t), imageName+"@b", nil, &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &other}}); !apierrors.IsConflict(err) {
		t.Errorf("delete with a wrong UID precondition: %v, want 409", err)
	}
	obj, deleted, err := e.signatures.Delete(ctx(t), imageName+"@b", nil, &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil || !deleted {
		t.Fatalf("delete: %v, %v", deleted, err)
	}
	if st := obj.(*metav1.Status); st.Status != metav1.StatusSuccess || st.Details.Name != imageName+"@b" {
		t.Errorf("status %+v", st)
	}
	after := e.image(t)
	var names []string
	for _, s := range after.Signatures {
		names = append(names, strings.TrimPrefix(s.Name, imageName+"@"))
	}
	if strings.Join(names, ",") != "a,c" {
		t.Errorf("signatures after delete %v, want a,c", names)
	}
	if withoutSignatures(after) != withoutSignatures(before) {
		t.Errorf("the image changed beyond its signatures")
	}

	tests := []struct {
		name  string
		check func(error) bool
	}{
		{imageName + "@b", apierrors.IsNotFound},
		{"sha256:" + strings.Repeat("f", 64) + "@a", apierrors.IsNotFound},
		{imageName, apierrors.IsBadRequest},
		{imageName + "@a@b", apierrors.IsBadRequest},
	}
	for _, tc := range tests {
		if _, _, err := e.signatures.Delete(ctx(t), tc.name, nil, &metav1.DeleteOptions{}); !tc.check(err) {
			t.Errorf("delete %s: %v", tc.name, err)
		}
	}
}

// TestConcurrentCreates: 16 signature creates on one image at once all succeed (D15): each
// conflict is retried from a fresh read, never answered with a 409 or a 500.
func TestConcurrentCreates(t *testing.T) {
	e := newEnv(t)
	before := e.image(t)
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = e.create(t, signature(fmt.Sprint("s", i), fmt.Sprint("content ", i)), nil)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("create %d: %v", i, err)
		}
	}
	after := e.image(t)
	seen := map[string]bool{}
	for _, s := range after.Signatures {
		seen[s.Name] = true
	}
	if len(after.Signatures) != n || len(seen) != n {
		t.Errorf("%d signatures (%d distinct), want %d", len(after.Signatures), len(seen), n)
	}
	if withoutSignatures(after) != withoutSignatures(before) {
		t.Errorf("the image changed beyond its signatures")
	}
}
