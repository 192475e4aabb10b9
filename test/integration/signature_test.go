package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"

	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

func newSignature(image, name, content string) *imagev1.ImageSignature {
	return &imagev1.ImageSignature{
		ObjectMeta: metav1.ObjectMeta{Name: image + "@" + name},
		Type:       imagev1.ImageSignatureTypeAtomicImageV1,
		Content:    []byte(content),
	}
}

// signedImage creates the image digestOf(n) with labels and annotations, for tests that check
// a signature write changes nothing else.
func signedImage(t *testing.T, client imageclient.Interface, n int) *imagev1.Image {
	t.Helper()
	img := newImage(digestOf(n))
	img.Labels = map[string]string{"team": "a"}
	img.Annotations = map[string]string{"note": "kept"}
	created, err := client.ImageV1().Images().Create(testContext(t), img, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return created
}

func getImage(t *testing.T, client imageclient.Interface, name string) *imagev1.Image {
	t.Helper()
	img, err := client.ImageV1().Images().Get(testContext(t), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// sameExceptSignatures fails the test if a and b differ in anything but signatures and
// resourceVersion.
func sameExceptSignatures(t *testing.T, a, b *imagev1.Image) {
	t.Helper()
	a, b = a.DeepCopy(), b.DeepCopy()
	a.Signatures, b.Signatures = nil, nil
	a.ResourceVersion, b.ResourceVersion = "", ""
	if a.String() != b.String() {
		t.Errorf("the image changed beyond its signatures:\n%s\nwas\n%s", b, a)
	}
}

// wantStatus fails the test unless err is a Status error with code and details kind/name.
func wantStatus(t *testing.T, what string, err error, code int32, kind, name string) *apierrors.StatusError {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want %d", what, code)
	}
	se := statusError(t, err)
	d := se.ErrStatus.Details
	if se.ErrStatus.Code != code || d == nil || d.Group != imagev1.GroupName || d.Kind != kind || d.Name != name {
		t.Fatalf("%s: %d %+v (%v), want %d with details image.openshift.io %s %q", what, se.ErrStatus.Code, d, err, code, kind, name)
	}
	return se
}

// TestImageSignatures: create and delete through the typed clients, with the errors a
// registry maps (409 AlreadyExists, 404) and the 422 a user sees.
func TestImageSignatures(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	for i, ct := range framework.ContentTypes {
		t.Run(shortName(ct), func(t *testing.T) {
			ctx := testContext(t)
			client := s.ImageClient(ct)
			sigs := client.ImageV1().ImageSignatures()
			img := signedImage(t, client, 100+i)

			in := newSignature(img.Name, "s1", "content one")
			in.ImageIdentity = "quay.io/forged" // only a verifier sets it: cleared
			created, err := sigs.Create(ctx, in, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if created.Name != img.Name+"@s1" || created.UID == "" || created.ImageIdentity != "" || string(created.Content) != "content one" || created.Type != imagev1.ImageSignatureTypeAtomicImageV1 {
				t.Errorf("created %s", created)
			}
			stored := getImage(t, client, img.Name)
			if len(stored.Signatures) != 1 || stored.Signatures[0].UID != created.UID {
				t.Errorf("image signatures %v, want the created one", stored.Signatures)
			}
			sameExceptSignatures(t, img, stored)

			_, err = sigs.Create(ctx, newSignature(img.Name, "s1", "other content"), metav1.CreateOptions{})
			wantStatus(t, "same name", err, http.StatusConflict, "imagesignatures", img.Name+"@s1")
			if !apierrors.IsAlreadyExists(err) {
				t.Errorf("same name: %v, want AlreadyExists", err)
			}
			_, err = sigs.Create(ctx, newSignature(img.Name, "s2", "content one"), metav1.CreateOptions{})
			wantStatus(t, "same type and content", err, http.StatusConflict, "imagesignatures", img.Name+"@s2")

			missing := digestOf(999)
			_, err = sigs.Create(ctx, newSignature(missing, "s", "c"), metav1.CreateOptions{})
			wantStatus(t, "missing image", err, http.StatusNotFound, "images", missing)

			bad := &imagev1.ImageSignature{ObjectMeta: metav1.ObjectMeta{Name: img.Name, Labels: map[string]string{"a": "b"}}}
			_, err = sigs.Create(ctx, bad, metav1.CreateOptions{})
			se := wantStatus(t, "invalid", err, http.StatusUnprocessableEntity, "ImageSignature", img.Name)
			if got := causeFields(se); !slices.Equal(got, []string{"metadata.labels", "metadata.name", "type", "content"}) {
				t.Errorf("invalid: fields %v", got)
			}
			if !strings.Contains(err.Error(), "name must be of format <imageName>@<signatureName>") {
				t.Errorf("invalid: message %q does not give the form", err)
			}

			// Dry runs answer as the real thing and write nothing.
			before := getImage(t, client, img.Name)
			dry, err := sigs.Create(ctx, newSignature(img.Name, "s3", "three"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil || dry.Name != img.Name+"@s3" {
				t.Fatalf("dry-run create: %v, %v", dry, err)
			}
			if err := sigs.Delete(ctx, img.Name+"@s1", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
				t.Fatalf("dry-run delete: %v", err)
			}
			if after := getImage(t, client, img.Name); after.ResourceVersion != before.ResourceVersion || len(after.Signatures) != 1 {
				t.Fatalf("dry runs wrote: resourceVersion %s -> %s, %d signatures", before.ResourceVersion, after.ResourceVersion, len(after.Signatures))
			}

			if err := sigs.Delete(ctx, img.Name+"@s1", metav1.DeleteOptions{}); err != nil {
				t.Fatalf("delete: %v", err)
			}
			after := getImage(t, client, img.Name)
			if len(after.Signatures) != 0 {
				t.Errorf("signatures after delete: %v", after.Signatures)
			}
			sameExceptSignatures(t, img, after)
			err = sigs.Delete(ctx, img.Name+"@s1", metav1.DeleteOptions{})
			wantStatus(t, "delete again", err, http.StatusNotFound, "imagesignatures", img.Name+"@s1")
			err = sigs.Delete(ctx, missing+"@s1", metav1.DeleteOptions{})
			wantStatus(t, "delete on a missing image", err, http.StatusNotFound, "images", missing)
			if err := sigs.Delete(ctx, "no-at-sign", metav1.DeleteOptions{}); !apierrors.IsBadRequest(err) {
				t.Errorf("delete of a name without @: %v, want 400", err)
			}
		})
	}
}

// TestImageSignatureDeleteStatus: a delete answers Status Success naming the signature.
func TestImageSignatureDeleteStatus(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	client := s.ImageClient("application/json")
	img := signedImage(t, client, 1)
	if _, err := client.ImageV1().ImageSignatures().Create(testContext(t), newSignature(img.Name, "s", "c"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	code, body, _ := rawRequest(t, s, http.MethodDelete, "/apis/image.openshift.io/v1/imagesignatures/"+img.Name+"@s", "", nil)
	var st metav1.Status
	if err := json.Unmarshal(body, &st); err != nil || code != http.StatusOK {
		t.Fatalf("delete: %d %s (%v)", code, body, err)
	}
	if st.Kind != "Status" || st.Status != metav1.StatusSuccess || st.Details == nil || st.Details.Name != img.Name+"@s" {
		t.Errorf("delete answered %s", body)
	}
}

// TestImageSignaturesConcurrent: 16 signature creates on one image at once all succeed (D15),
// and the image keeps every other field.
func TestImageSignaturesConcurrent(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	forEachContentType(t, func(t *testing.T, ct string) {
		client := s.ImageClient(ct)
		n := 200
		if strings.Contains(ct, "protobuf") {
			n = 201
		}
		img := signedImage(t, client, n)
		const writers = 16
		errs := make([]error, writers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = client.ImageV1().ImageSignatures().Create(testContext(t), newSignature(img.Name, fmt.Sprint("s", i), fmt.Sprint("content ", i)), metav1.CreateOptions{})
			}()
		}
		began := time.Now()
		close(start)
		wg.Wait()
		t.Logf("%d concurrent signature creates on one image took %s", writers, time.Since(began).Round(time.Millisecond))
		for i, err := range errs {
			if err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
		}
		after := getImage(t, client, img.Name)
		names := map[string]bool{}
		for _, sig := range after.Signatures {
			names[sig.Name] = true
		}
		if len(after.Signatures) != writers || len(names) != writers {
			t.Errorf("%d signatures (%d distinct), want %d", len(after.Signatures), len(names), writers)
		}
		sameExceptSignatures(t, img, after)
	})
}

// warnings records the warning headers a client receives.
type warnings struct {
	mu   sync.Mutex
	text []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.text = append(w.text, text)
}

// TestImageStreamSecretsStandalone: without a Secrets API the answer is an empty SecretList
// with a warning saying why; the stream need not exist and list options are accepted.
func TestImageStreamSecretsStandalone(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	forEachContentType(t, func(t *testing.T, ct string) {
		w := &warnings{}
		cfg := s.RESTConfig()
		cfg.ContentType, cfg.AcceptContentTypes = ct, ct
		cfg.WarningHandler = w
		client, err := imageclient.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		list, err := client.ImageV1().ImageStreams("secrets").Secrets(testContext(t), "no-such-stream", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 0 {
			t.Errorf("items %v, want none", list.Items)
		}
		if len(w.text) != 1 || !strings.Contains(w.text[0], "standalone, without a Kubernetes Secrets API") {
			t.Errorf("warnings %q", w.text)
		}
	})

	path := "/apis/image.openshift.io/v1/namespaces/secrets/imagestreams/app/secrets"
	code, body, header := rawRequest(t, s, http.MethodGet, path+"?labelSelector=a%3Db&limit=5", "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET: %d %s", code, body)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got["kind"] != "SecretList" || got["apiVersion"] != "image.openshift.io/v1" || fmt.Sprint(got["items"]) != "[]" {
		t.Errorf("answer %s, want an empty image.openshift.io/v1 SecretList", body)
	}
	if h := header.Get("Warning"); !strings.HasPrefix(h, "299 ") || !strings.Contains(h, "imagestreams/secrets is always empty") {
		t.Errorf("Warning header %q", h)
	}
	code, body, _ = rawRequest(t, s, http.MethodGet, path+"?labelSelector=a+in+(b", "", nil)
	if code != http.StatusBadRequest || !strings.Contains(string(body), "labelSelector") {
		t.Errorf("bad label selector: %d %s, want 400 naming labelSelector", code, body)
	}
}

// TestSignatureAndSecretsDiscovery: the resources and verbs clients find.
func TestSignatureAndSecretsDiscovery(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	dc, err := discovery.NewDiscoveryClientForConfig(s.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	list, err := dc.ServerResourcesForGroupVersion("image.openshift.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range list.APIResources {
		got[r.Name] = fmt.Sprintf("namespaced=%v kind=%s verbs=%v", r.Namespaced, r.Kind, r.Verbs)
	}
	want := map[string]string{
		"imagesignatures":      "namespaced=false kind=ImageSignature verbs=[create delete]",
		"imagestreams/secrets": "namespaced=true kind=SecretList verbs=[get]",
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %q, want %q", name, got[name], w)
		}
	}
}
