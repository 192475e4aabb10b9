package mappingfastpath

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	imagev1 "github.com/openshift/api/image/v1"
)

type nopCreater struct{}

func (nopCreater) New() runtime.Object { return &imagev1.ImageStreamMapping{} }
func (nopCreater) Create(context.Context, runtime.Object, rest.ValidateObjectFunc, *metav1.CreateOptions) (runtime.Object, error) {
	return &metav1.Status{Status: metav1.StatusSuccess}, nil
}

func testRoute(t *testing.T) *Route {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := imagev1.Install(scheme); err != nil {
		t.Fatal(err)
	}
	r := New(Config{Serializer: serializer.NewCodecFactory(scheme), HubGroupVersion: imagev1.GroupVersion, MaxRequestBodyBytes: 16})
	r.Serve(nopCreater{})
	return r
}

func TestTakes(t *testing.T) {
	mappings := &request.RequestInfo{IsResourceRequest: true, APIGroup: "image.openshift.io", APIVersion: "v1", Resource: "imagestreammappings", Namespace: "ns", Verb: "create"}
	with := func(change func(*request.RequestInfo)) *request.RequestInfo {
		info := *mappings
		change(&info)
		return &info
	}
	for _, tc := range []struct {
		name        string
		method      string
		query       string
		contentType string
		accept      string
		info        *request.RequestInfo
		want        bool
	}{
		{name: "JSON create", info: mappings, want: true},
		{name: "protobuf create", contentType: "application/vnd.kubernetes.protobuf", info: mappings, want: true},
		{name: "JSON with parameters", contentType: "application/json; charset=utf-8", info: mappings, want: true},
		{name: "JSON in capitals", contentType: "Application/JSON", info: mappings, want: true},
		{name: "malformed content type", contentType: "application/json; charset", info: mappings},
		{name: "YAML body", contentType: "application/yaml", info: mappings},
		{name: "no content type", contentType: "-", info: mappings},
		{name: "query", query: "dryRun=All", info: mappings},
		{name: "empty query value", query: "pretty", info: mappings},
		{name: "table answer", accept: "application/json;as=Table;v=v1;g=meta.k8s.io", info: mappings},
		{name: "unacceptable answer", accept: "text/csv", info: mappings},
		{name: "PUT", method: http.MethodPut, info: mappings},
		{name: "no request info", info: nil},
		{name: "another resource", info: with(func(i *request.RequestInfo) { i.Resource = "imagestreams" })},
		{name: "another group", info: with(func(i *request.RequestInfo) { i.APIGroup = "apps" })},
		{name: "another version", info: with(func(i *request.RequestInfo) { i.APIVersion = "v2" })},
		{name: "a subresource", info: with(func(i *request.RequestInfo) { i.Subresource = "status" })},
		{name: "a name", info: with(func(i *request.RequestInfo) { i.Name = "app" })},
		{name: "all namespaces", info: with(func(i *request.RequestInfo) { i.Namespace = "" })},
		{name: "not a resource", info: with(func(i *request.RequestInfo) { i.IsResourceRequest = false })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			req := httptest.NewRequest(method, "/apis/image.openshift.io/v1/namespaces/ns/imagestreammappings?"+tc.query, nil)
			if tc.query == "" {
				req.URL.RawQuery = ""
			}
			switch tc.contentType {
			case "":
				req.Header.Set("Content-Type", "application/json")
			case "-":
			default:
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			if tc.info != nil {
				req = req.WithContext(request.WithRequestInfo(req.Context(), tc.info))
			}
			if _, _, got := testRoute(t).takes(req); got != tc.want {
				t.Errorf("takes = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("before Serve", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodPost, "/apis/image.openshift.io/v1/namespaces/ns/imagestreammappings", nil)
		req.Header.Set("Content-Type", "application/json")
		req = req.WithContext(request.WithRequestInfo(req.Context(), mappings))
		r := New(Config{Serializer: serializer.NewCodecFactory(runtime.NewScheme())})
		if _, _, took := r.takes(req); took {
			t.Error("a route without storage takes requests")
		}
	})
}

// TestReadBodyReplays checks that what the route read is given back whole to the generic
// handler when the body is over the limit, sized or not.
func TestReadBodyReplays(t *testing.T) {
	for _, tc := range []struct {
		name     string
		body     string
		unsized  bool
		tooLarge bool
	}{
		{name: "within the limit", body: "0123456789abcdef"},
		{name: "over the limit, sized", body: strings.Repeat("x", 40), tooLarge: true},
		{name: "over the limit, unsized", body: strings.Repeat("y", 40), unsized: true, tooLarge: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			if tc.unsized {
				req.ContentLength = -1
			}
			read, tooLarge, err := testRoute(t).readBody(req)
			if err != nil {
				t.Fatal(err)
			}
			if tooLarge != tc.tooLarge {
				t.Fatalf("tooLarge = %v, want %v", tooLarge, tc.tooLarge)
			}
			if !tooLarge {
				if string(read) != tc.body {
					t.Fatalf("read %q, want %q", read, tc.body)
				}
				return
			}
			again, err := io.ReadAll(replay(read, req.Body))
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != tc.body {
				t.Errorf("replayed %q, want %q", again, tc.body)
			}
		})
	}
}

// TestReadErrorIsReplayed: a body that fails part-way (the UTF-8 filter's reader, say) gives
// the generic handler the same bytes and then the same error.
func TestReadErrorIsReplayed(t *testing.T) {
	bad := errors.New("the request body is not valid UTF-8")
	req := httptest.NewRequest(http.MethodPost, "/", io.MultiReader(strings.NewReader("{\"kind\":"), iotest.ErrReader(bad)))
	read, _, err := testRoute(t).readBody(req)
	if !errors.Is(err, bad) {
		t.Fatalf("readBody error %v, want %v", err, bad)
	}
	again, err := io.ReadAll(replay(read, failingBody{err: err, closer: req.Body}))
	if string(again) != "{\"kind\":" || !errors.Is(err, bad) {
		t.Errorf("replayed %q then %v, want the bytes then %v", again, err, bad)
	}
}

// TestDecodeJSON: the route decodes a JSON mapping itself only when the codecs would give the
// same object; everything else is left to the generic handler.
func TestDecodeJSON(t *testing.T) {
	r := testRoute(t)
	r.cfg.Defaulter = runtime.NewScheme()
	const rest = `"metadata":{"name":"app"},"tag":"latest","image":{"metadata":{"name":"sha256:abc"}}`
	for _, tc := range []struct {
		name string
		body string
		want bool
	}{
		{name: "apiVersion and kind", body: `{"apiVersion":"image.openshift.io/v1","kind":"ImageStreamMapping",` + rest + `}`, want: true},
		{name: "neither: defaulted", body: `{` + rest + `}`, want: true},
		{name: "kind only", body: `{"kind":"ImageStreamMapping",` + rest + `}`, want: true},
		{name: "group without version", body: `{"apiVersion":"image.openshift.io","kind":"ImageStreamMapping",` + rest + `}`},
		{name: "core v1", body: `{"apiVersion":"v1","kind":"ImageStreamMapping",` + rest + `}`},
		{name: "another version", body: `{"apiVersion":"image.openshift.io/v2","kind":"ImageStreamMapping",` + rest + `}`},
		{name: "another kind", body: `{"apiVersion":"image.openshift.io/v1","kind":"ImageStream",` + rest + `}`},
		{name: "a key the codecs read case-insensitively", body: `{"Kind":"ImageStream",` + rest + `}`},
		{name: "unknown field", body: `{"color":"blue",` + rest + `}`},
		{name: "duplicate field", body: `{"tag":"x",` + rest + `}`},
		{name: "owner references", body: `{"metadata":{"name":"app","ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"o","uid":"1"}]},"tag":"latest"}`},
		{name: "not an object", body: `["a"]`},
		{name: "malformed", body: `{"tag":`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ism, ok := r.decodeJSON([]byte(tc.body))
			if ok != tc.want {
				t.Fatalf("decodeJSON ok = %v, want %v", ok, tc.want)
			}
			if ok && (ism.Name != "app" || ism.Tag != "latest") {
				t.Errorf("decoded %+v", ism)
			}
		})
	}
}
