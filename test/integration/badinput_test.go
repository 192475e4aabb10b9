package integration

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

// TestBadInput sends malformed and oversized bodies: each is a 4xx Status naming the problem,
// nothing is written, and the server keeps serving.
func TestBadInput(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	const streams = "/apis/image.openshift.io/v1/namespaces/bad/imagestreams"
	valid := `{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":"ok"}}`
	tests := []struct {
		name        string
		path        string
		contentType string
		body        string
		code        int
		mention     string
	}{
		{"malformed JSON", streams, "application/json", `{"apiVersion":`, 400, ""},
		{"malformed YAML", streams, "application/yaml", "apiVersion: image.openshift.io/v1\nkind: ImageStream\nmetadata: [name: x\n", 400, ""},
		{"wrong apiVersion", streams, "application/json", `{"apiVersion":"image.openshift.io/v2","kind":"ImageStream","metadata":{"name":"x"}}`, 400, "v2"},
		{"wrong kind", streams, "application/json", `{"apiVersion":"image.openshift.io/v1","kind":"Image","metadata":{"name":"x"}}`, 400, "Image"},
		{"unknown field, strict", streams + "?fieldValidation=Strict", "application/json", `{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":"x"},"spec":{"bogus":1}}`, 400, "spec.bogus"},
		{"duplicate field, strict", streams + "?fieldValidation=Strict", "application/json", `{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":"x","name":"y"}}`, 400, "duplicate"},
		{"namespace mismatch", streams, "application/json", `{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":"x","namespace":"other"}}`, 400, "namespace"},
		{"body over the size limit", streams, "application/json", `{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":"x","annotations":{"a":"` + strings.Repeat("x", 4<<20) + `"}}}`, 413, ""},
		{"unsupported media type", streams, "text/plain", valid, 415, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := rawRequest(t, s, "POST", tc.path, tc.contentType, []byte(tc.body))
			if code != tc.code {
				t.Errorf("got %d %s, want %d", code, body, tc.code)
			}
			if !strings.Contains(string(body), `"kind":"Status"`) {
				t.Errorf("reply is not a Status: %s", body)
			}
			if tc.mention != "" && !strings.Contains(string(body), tc.mention) {
				t.Errorf("reply does not mention %q: %s", tc.mention, body)
			}
		})
	}
	// By default an unknown field is dropped with a warning (299), as in OpenShift.
	code, _, header := rawRequest(t, s, "POST", streams, "application/json", []byte(`{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":"warned"},"spec":{"bogus":1}}`))
	if code != 201 || !strings.Contains(header.Get("Warning"), "bogus") {
		t.Errorf("unknown field without strict: %d, warning %q; want 201 with a 299 warning", code, header.Get("Warning"))
	}
	list, err := s.ImageClient(framework.ContentTypes[0]).ImageV1().ImageStreams("bad").List(testContext(t), metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "warned" {
		t.Errorf("after bad input the namespace holds %+v (%v), want only the warned stream", list, err)
	}
}
