package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"

	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

// fastPathCase is one mapping request sent alike to a server with the mapping fast path and
// to one without it.
type fastPathCase struct {
	name        string
	query       string
	contentType string
	accept      string
	// userAgent, when set, replaces client-go's (curl's asks for pretty-printed answers).
	userAgent string
	body      []byte
	// unsized sends the body without a Content-Length (chunked), as a streaming client would.
	unsized bool
	// fast is whether the fast path should serve it; otherwise it goes to the generic handler.
	fast bool
	code int
}

// TestMappingFastPathMatchesGenericHandler sends the same mapping requests, good and bad, to a
// server with the mapping fast path (the default) and to one without it, and requires the
// same answers: code, body and warnings; the same request metrics; the same audit events.
// The fast path's own counter shows which requests it served.
func TestMappingFastPathMatchesGenericHandler(t *testing.T) {
	policy := filepath.Join(t.TempDir(), "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(`apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: RequestResponse
  resources:
  - group: image.openshift.io
    resources: ["imagestreammappings"]
- level: None
`), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func(extra ...string) (*framework.Server, string) {
		auditLog := filepath.Join(t.TempDir(), "audit.log")
		args := append([]string{"--audit-policy-file", policy, "--audit-log-path", auditLog, "--audit-log-mode", "blocking"}, extra...)
		return framework.StartServer(t, framework.Options{ExtraArgs: args}), auditLog
	}
	fast, fastAudit := start()
	generic, genericAudit := start("--mapping-fast-path=false")

	const ns = "fastpath"
	for _, s := range []*framework.Server{fast, generic} {
		if _, err := s.ImageClient("application/json").ImageV1().ImageStreams(ns).Create(testContext(t), newStream("app"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	path := "/apis/image.openshift.io/v1/namespaces/" + ns + "/imagestreammappings"
	mapping := func(stream, tag string, n int) *imagev1.ImageStreamMapping {
		return &imagev1.ImageStreamMapping{
			TypeMeta:   metav1.TypeMeta{APIVersion: "image.openshift.io/v1", Kind: "ImageStreamMapping"},
			ObjectMeta: metav1.ObjectMeta{Name: stream},
			Tag:        tag,
			Image:      *newImage(digestOf(n)),
		}
	}
	asJSON := func(m *imagev1.ImageStreamMapping) []byte {
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	withField := func(m *imagev1.ImageStreamMapping, extra string) []byte {
		data := asJSON(m)
		return append([]byte(`{`+extra+`,`), data[1:]...)
	}
	scheme := runtime.NewScheme()
	if err := imagev1.Install(scheme); err != nil {
		t.Fatal(err)
	}
	codecs := serializer.NewCodecFactory(scheme)
	protoInfo, _ := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	asProto := func(m *imagev1.ImageStreamMapping) []byte {
		data, err := runtime.Encode(codecs.EncoderForVersion(protoInfo.Serializer, imagev1.GroupVersion), m)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	otherNamespace := mapping("app", "ns", 9)
	otherNamespace.Namespace = "elsewhere"
	otherKind := asJSON(mapping("app", "kind", 10))
	otherKind = bytes.Replace(otherKind, []byte(`"ImageStreamMapping"`), []byte(`"ImageStream"`), 1)
	otherVersion := bytes.Replace(asJSON(mapping("app", "version", 11)), []byte(`image.openshift.io/v1`), []byte(`image.openshift.io/v2`), 1)
	huge := mapping("app", "huge", 12)
	huge.Image.Annotations = map[string]string{"padding": strings.Repeat("x", 3<<20)}
	owned := mapping("app", "owned", 13)
	owned.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: "1"}, {APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: "1"}}
	const jsonType, protoType = "application/json", "application/vnd.kubernetes.protobuf"

	cases := []fastPathCase{
		{name: "JSON", contentType: jsonType, accept: jsonType, body: asJSON(mapping("app", "latest", 1)), fast: true, code: 201},
		{name: "JSON with charset, answered in protobuf", contentType: jsonType + ";charset=utf-8", accept: protoType, body: asJSON(mapping("app", "latest", 2)), fast: true, code: 201},
		{name: "protobuf", contentType: protoType, accept: protoType + ", " + jsonType, body: asProto(mapping("app", "v1", 3)), fast: true, code: 201},
		{name: "unsized body", contentType: jsonType, accept: jsonType, body: asJSON(mapping("app", "v2", 4)), unsized: true, fast: true, code: 201},
		{name: "same image again", contentType: jsonType, accept: jsonType, body: asJSON(mapping("app", "v2", 4)), fast: true, code: 201},
		{name: "no apiVersion or kind", contentType: jsonType, accept: jsonType, body: withoutTypeMeta(asJSON(mapping("app", "bare", 20))), fast: true, code: 201},
		{name: "invalid tag", contentType: jsonType, accept: jsonType, body: asJSON(mapping("app", "bad:tag", 6)), fast: true, code: 422},
		{name: "stream name too long", contentType: jsonType, accept: jsonType, body: asJSON(mapping(strings.Repeat("a", 64), "latest", 7)), fast: true, code: 422},
		{name: "image name and reference disagree", contentType: jsonType, accept: jsonType, body: asJSON(func() *imagev1.ImageStreamMapping {
			m := mapping("app", "lie", 8)
			m.Image.DockerImageReference = "registry.test:5000/ns/app@" + digestOf(80)
			return m
		}()), fast: true, code: 422},
		{name: "namespace in the body differs", contentType: jsonType, accept: jsonType, body: asJSON(otherNamespace), fast: true, code: 400},
		{name: "YAML answer", contentType: jsonType, accept: "application/yaml", body: asJSON(mapping("app", "yaml", 14)), fast: true, code: 201},
		{name: "pretty answer to curl", contentType: jsonType, accept: jsonType, userAgent: "curl/8.5.0", body: asJSON(mapping("app", "curl", 24)), fast: true, code: 201},
		// The generic handler's cases.
		{name: "dry run", query: "?dryRun=All", contentType: jsonType, accept: jsonType, body: asJSON(mapping("app", "dry", 15)), code: 201},
		{name: "unknown and duplicate fields are warnings", contentType: jsonType, accept: jsonType, body: withField(mapping("app", "warned", 5), `"color":"blue","tag":"x"`), code: 201},
		{name: "protobuf, answered in JSON", contentType: protoType, accept: jsonType, body: asProto(mapping("app", "protowarned", 23)), fast: true, code: 201},
		{name: "strict field validation", query: "?fieldValidation=Strict", contentType: jsonType, accept: jsonType, body: withField(mapping("app", "strict", 16), `"color":"blue"`), code: 400},
		{name: "YAML body", contentType: "application/yaml", accept: jsonType, body: []byte("apiVersion: image.openshift.io/v1\nkind: ImageStreamMapping\nmetadata:\n  name: app\ntag: yamlbody\nimage:\n  metadata:\n    name: " + digestOf(17) + "\n  dockerImageReference: registry.test:5000/ns/app@" + digestOf(17) + "\n"), code: 201},
		{name: "invalid UTF-8", contentType: jsonType, accept: jsonType, body: []byte("{\"kind\":\"ImageStreamMapping\",\"apiVersion\":\"image.openshift.io/v1\",\"tag\":\"\xff\"}"), code: 400},
		{name: "malformed JSON", contentType: jsonType, accept: jsonType, body: []byte(`{"kind":"ImageStreamMapping",`), code: 400},
		{name: "another kind", contentType: jsonType, accept: jsonType, body: otherKind, code: 400},
		{name: "core v1", contentType: jsonType, accept: jsonType, body: bytes.Replace(asJSON(mapping("app", "core", 21)), []byte(`"image.openshift.io/v1"`), []byte(`"v1"`), 1), code: 0},
		{name: "kind in capitals", contentType: jsonType, accept: jsonType, body: withField(mapping("app", "capitals", 22), `"Kind":"ImageStream"`), code: 0},
		{name: "another version", contentType: jsonType, accept: jsonType, body: otherVersion, code: 400},
		{name: "owner references", contentType: jsonType, accept: jsonType, body: asJSON(owned), code: 201},
		{name: "too large", contentType: jsonType, accept: jsonType, body: asJSON(huge), code: 413},
		{name: "too large, unsized", contentType: jsonType, accept: jsonType, body: asJSON(huge), unsized: true, code: 413},
		{name: "table answer", contentType: jsonType, accept: "application/json;as=Table;v=v1;g=meta.k8s.io", body: asJSON(mapping("app", "table", 18)), code: 0},
		{name: "unacceptable answer", contentType: jsonType, accept: "text/csv", body: asJSON(mapping("app", "csv", 19)), code: 406},
		{name: "unsupported body type", contentType: "text/plain", accept: jsonType, body: []byte("hello"), code: 415},
	}

	served := func(s *framework.Server) float64 {
		return metricSum(t, s, "openshift_image_apiserver_mapping_fast_path_requests_total")
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := served(fast)
			fastCode, fastBody, fastHeader := fastPathRequest(t, fast, path+tc.query, tc)
			genericCode, genericBody, genericHeader := fastPathRequest(t, generic, path+tc.query, tc)
			if tc.code != 0 && fastCode != tc.code {
				t.Errorf("fast path answered %d, want %d: %s", fastCode, tc.code, fastBody)
			}
			if fastCode != genericCode || !bytes.Equal(fastBody, genericBody) {
				t.Errorf("answers differ:\nfast path: %d %s\ngeneric:   %d %s", fastCode, fastBody, genericCode, genericBody)
			}
			if f, g := fastHeader.Values("Warning"), genericHeader.Values("Warning"); strings.Join(f, "\n") != strings.Join(g, "\n") {
				t.Errorf("warnings differ:\nfast path: %q\ngeneric:   %q", f, g)
			}
			if f, g := fastHeader.Get("Content-Type"), genericHeader.Get("Content-Type"); f != g {
				t.Errorf("content types differ: fast path %q, generic %q", f, g)
			}
			servedNow := served(fast) - before
			if want := map[bool]float64{true: 1, false: 0}[tc.fast]; servedNow != want {
				t.Errorf("the fast path served %v requests, want %v", servedNow, want)
			}
		})
	}

	t.Run("request metrics", func(t *testing.T) {
		for _, code := range []string{"201", "400", "413", "422"} {
			labels := []string{`resource="imagestreammappings"`, `verb="POST"`, `code="` + code + `"`}
			f, g := metricSum(t, fast, "apiserver_request_total", labels...), metricSum(t, generic, "apiserver_request_total", labels...)
			if f != g || f == 0 {
				t.Errorf("apiserver_request_total code %s: fast path server %v, generic %v (want equal and above 0)", code, f, g)
			}
		}
	})
	t.Run("audit", func(t *testing.T) {
		f, g := mappingAudit(t, fastAudit), mappingAudit(t, genericAudit)
		if len(f) != len(g) || len(f) == 0 {
			t.Fatalf("audit events: fast path server %d, generic %d", len(f), len(g))
		}
		for i := range f {
			if f[i] != g[i] {
				t.Errorf("audit event %d differs:\nfast path: %s\ngeneric:   %s", i, f[i], g[i])
			}
		}
	})
}

// fastPathRequest sends one case with the admin's credentials.
func fastPathRequest(t *testing.T, s *framework.Server, path string, tc fastPathCase) (int, []byte, http.Header) {
	t.Helper()
	client, err := rest.HTTPClientFor(s.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	var body io.Reader = bytes.NewReader(tc.body)
	if tc.unsized {
		body = io.MultiReader(body) // hides the length: the request is sent chunked
	}
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", tc.contentType)
	req.Header.Set("Accept", tc.accept)
	if tc.userAgent != "" {
		req.Header.Set("User-Agent", tc.userAgent)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data, resp.Header
}

// mappingAudit reads the audit log's mapping events, each reduced to what must not depend on
// the handler: stage, verb, URI, code, and the request and response objects.
func mappingAudit(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 16<<20)
	for scanner.Scan() {
		var e struct {
			Stage, Verb, RequestURI string
			ObjectRef               *struct{ Resource string }
			ResponseStatus          *struct{ Code int }
			RequestObject           json.RawMessage
			ResponseObject          json.RawMessage
		}
		if err := json.Unmarshal(scanner.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if e.ObjectRef == nil || e.ObjectRef.Resource != "imagestreammappings" {
			continue
		}
		code := 0
		if e.ResponseStatus != nil {
			code = e.ResponseStatus.Code
		}
		out = append(out, strings.Join([]string{e.Stage, e.Verb, e.RequestURI, strconv.Itoa(code), string(e.RequestObject), string(e.ResponseObject)}, " "))
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// withoutTypeMeta drops apiVersion and kind from a JSON object: the server defaults them.
func withoutTypeMeta(data []byte) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		panic(err)
	}
	delete(m, "apiVersion")
	delete(m, "kind")
	out, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return out
}
