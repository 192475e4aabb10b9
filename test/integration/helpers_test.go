package integration

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

const testDigest = "sha256:47463d94eb5c049b2d23b03a9530bf944f8f967a0fe79147dd6b9135bf7dd13d"

// testContext is bounded so that a hung request fails the test instead of the suite.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// forEachContentType runs f once with JSON and once with protobuf clients.
func forEachContentType(t *testing.T, f func(t *testing.T, contentType string)) {
	for _, ct := range framework.ContentTypes {
		t.Run(shortName(ct), func(t *testing.T) { f(t, ct) })
	}
}

func shortName(contentType string) string {
	if strings.Contains(contentType, "protobuf") {
		return "protobuf"
	}
	return "json"
}

// statusError returns err as a StatusError or fails the test.
func statusError(t *testing.T, err error) *apierrors.StatusError {
	t.Helper()
	var se *apierrors.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("expected a Kubernetes Status error, got %T: %v", err, err)
	}
	return se
}

// causeFields returns the field paths of an error's causes.
func causeFields(se *apierrors.StatusError) []string {
	var fields []string
	if se.ErrStatus.Details == nil {
		return nil
	}
	for _, c := range se.ErrStatus.Details.Causes {
		fields = append(fields, c.Field)
	}
	return fields
}

// rawRequest sends a request with the admin credentials and returns code, body and headers.
func rawRequest(t *testing.T, s *framework.Server, method, path, contentType string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	return doRaw(t, s, method, path, contentType, "application/json", body)
}

// rawRequestAccept GETs path with the given Accept header.
func rawRequestAccept(t *testing.T, s *framework.Server, path, accept string) (int, []byte, http.Header) {
	t.Helper()
	return doRaw(t, s, http.MethodGet, path, "", accept, nil)
}

func doRaw(t *testing.T, s *framework.Server, method, path, contentType, accept string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	client, err := rest.HTTPClientFor(s.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(testContext(t), method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data, resp.Header
}

func newStream(name string, tags ...string) *imagev1.ImageStream {
	s := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, tag := range tags {
		s.Spec.Tags = append(s.Spec.Tags, imagev1.TagReference{
			Name:      tag,
			From:      &corev1.ObjectReference{Kind: "DockerImage", Name: "quay.io/example/" + name + ":" + tag},
			Reference: true,
		})
	}
	return s
}

// digestOf returns a valid, distinct sha256 digest for n.
func digestOf(n int) string {
	const hex = "0123456789abcdef"
	b := []byte(strings.Repeat("0", 64))
	for i := 63; n > 0 && i >= 0; i-- {
		b[i] = hex[n%16]
		n /= 16
	}
	return "sha256:" + string(b)
}

func newImage(digest string) *imagev1.Image {
	return &imagev1.Image{
		ObjectMeta:           metav1.ObjectMeta{Name: digest},
		DockerImageReference: "registry.test:5000/ns/app@" + digest,
	}
}
