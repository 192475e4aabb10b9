package mappingfastpath

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/endpoints/handlers/negotiation"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	"k8s.io/apiserver/pkg/endpoints/request"
)

// codecStatusJSON is how the response writers encode a Status in JSON for the image API.
func codecStatusJSON(t testing.TB, s *metav1.Status) []byte {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := imagev1.Install(scheme); err != nil {
		t.Fatal(err)
	}
	codecs := serializer.NewCodecFactory(scheme)
	info, _ := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
	var buf bytes.Buffer
	if err := codecs.EncoderForVersion(info.Serializer, imagev1.GroupVersion).Encode(s.DeepCopy(), &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestAppendStatusJSON(t *testing.T) {
	success := func(change func(*metav1.Status)) *metav1.Status {
		s := &metav1.Status{
			Status:  metav1.StatusSuccess,
			Code:    http.StatusCreated,
			Message: "tag latest of image stream ns/app now points to image sha256:0123",
			Details: &metav1.StatusDetails{Group: "image.openshift.io", Kind: "imagestreammappings", Name: "app"},
		}
		if change != nil {
			change(s)
		}
		return s
	}
	for _, tc := range []struct {
		name   string
		status *metav1.Status
		ok     bool
	}{
		{name: "a push's answer", status: success(nil), ok: true},
		{name: "no details", status: success(func(s *metav1.Status) { s.Details = nil }), ok: true},
		{name: "empty details", status: success(func(s *metav1.Status) { s.Details = &metav1.StatusDetails{} }), ok: true},
		{name: "details without a name", status: success(func(s *metav1.Status) { s.Details.Name = "" }), ok: true},
		{name: "details with only a kind", status: success(func(s *metav1.Status) { s.Details = &metav1.StatusDetails{Kind: "k"} }), ok: true},
		{name: "no message, status or code", status: &metav1.Status{}, ok: true},
		{name: "negative code", status: success(func(s *metav1.Status) { s.Code = -1 }), ok: true},
		{name: "a reason", status: success(func(s *metav1.Status) { s.Reason = metav1.StatusReasonConflict })},
		{name: "list metadata", status: success(func(s *metav1.Status) { s.ResourceVersion = "1" })},
		{name: "a UID", status: success(func(s *metav1.Status) { s.Details.UID = "u" })},
		{name: "causes", status: success(func(s *metav1.Status) { s.Details.Causes = []metav1.StatusCause{{Message: "m"}} })},
		{name: "retry", status: success(func(s *metav1.Status) { s.Details.RetryAfterSeconds = 1 })},
		{name: "a quote", status: success(func(s *metav1.Status) { s.Message = `say "hi"` })},
		{name: "HTML", status: success(func(s *metav1.Status) { s.Details.Name = "a<b>&c" })},
		{name: "a newline", status: success(func(s *metav1.Status) { s.Message = "a\nb" })},
		{name: "not ASCII", status: success(func(s *metav1.Status) { s.Details.Group = "grüße" })},
		{name: "invalid UTF-8", status: success(func(s *metav1.Status) { s.Message = "\xff" })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := appendStatusJSON(nil, tc.status)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if want := codecStatusJSON(t, tc.status); ok && !bytes.Equal(got, want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// FuzzAppendStatusJSON checks that whatever appendStatusJSON encodes, it encodes as the codec.
func FuzzAppendStatusJSON(f *testing.F) {
	f.Add("Success", "tag latest of image stream ns/app now points to image sha256:0123", "app", "image.openshift.io", "imagestreammappings", int32(201), true)
	f.Add("", "", "", "", "", int32(0), false)
	f.Add("Failure", "a \"b\" <c>", "\x00", "é", "k", int32(-7), true)
	f.Fuzz(func(t *testing.T, status, message, name, group, kind string, code int32, details bool) {
		s := &metav1.Status{Status: status, Message: message, Code: code}
		if details {
			s.Details = &metav1.StatusDetails{Name: name, Group: group, Kind: kind}
		}
		got, ok := appendStatusJSON(nil, s)
		if !ok {
			return
		}
		if want := codecStatusJSON(t, s); !bytes.Equal(got, want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
}

// TestRespondMatchesResponseWriters answers the same Status to requests that negotiate
// differently, through the route and through the response writers, and requires the same
// code, headers and body.
func TestRespondMatchesResponseWriters(t *testing.T) {
	r := testRoute(t)
	status := &metav1.Status{Status: metav1.StatusSuccess, Code: http.StatusCreated, Message: "done", Details: &metav1.StatusDetails{Name: "app", Kind: "imagestreammappings"}}
	mappings := &request.RequestInfo{IsResourceRequest: true, APIGroup: "image.openshift.io", APIVersion: "v1", Resource: "imagestreammappings", Namespace: "ns", Verb: "create"}
	for _, tc := range []struct {
		name, accept, userAgent string
		plain                   bool
	}{
		{name: "JSON", accept: "application/json", plain: true},
		{name: "anything", accept: "*/*", plain: true},
		{name: "no Accept", plain: true},
		{name: "protobuf", accept: "application/vnd.kubernetes.protobuf"},
		{name: "YAML", accept: "application/yaml"},
		{name: "pretty JSON", accept: "application/json;pretty=1"},
		{name: "curl", accept: "application/json", userAgent: "curl/8.0"},
		{name: "a browser", userAgent: "Mozilla/5.0 (X11)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/apis/image.openshift.io/v1/namespaces/ns/imagestreammappings", nil)
			req.Header.Set("Content-Type", "application/json")
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			req.Header.Set("User-Agent", tc.userAgent)
			req = req.WithContext(request.WithRequestInfo(req.Context(), mappings))
			_, out, ok := r.takes(req)
			if !ok {
				t.Fatal("the route does not take the request")
			}
			if out.plain != tc.plain {
				t.Errorf("plain = %v, want %v", out.plain, tc.plain)
			}
			route, writers := httptest.NewRecorder(), httptest.NewRecorder()
			r.respond(route, req, http.StatusCreated, status.DeepCopy(), out)
			responsewriters.WriteObjectNegotiated(r.cfg.Serializer, negotiation.DefaultEndpointRestrictions, resource.GroupVersion(), writers, req, http.StatusCreated, status.DeepCopy(), false)
			if route.Code != writers.Code || !bytes.Equal(route.Body.Bytes(), writers.Body.Bytes()) {
				t.Errorf("route answered %d %q, response writers %d %q", route.Code, route.Body, writers.Code, writers.Body)
			}
			if f, g := route.Header(), writers.Header(); len(f) != len(g) || f.Get("Content-Type") != g.Get("Content-Type") {
				t.Errorf("headers differ: route %v, response writers %v", f, g)
			}
		})
	}
}
