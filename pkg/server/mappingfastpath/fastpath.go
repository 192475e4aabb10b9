// Package mappingfastpath serves the registry's hot request, a plain POST of an
// ImageStreamMapping, without the generic create handler's per-request work that a mapping
// does not need.
//
// A mapping is never stored: the server records its image and a tag event and answers with a
// Status. The generic create handler still computes managed fields for it (a structured-merge
// walk of the whole mapping, image included, and a validation of the result), dispatches
// through go-restful's router, and runs the create in a separate goroutine. Together that was
// about a sixth of the server's CPU per push. This route runs everything the API requires in
// the same order as the generic handler: the filter chain before it has authenticated,
// authorized, audited and rate-limited the request; here the body is read within the same size
// limit, decoded as the codecs decode it (strictly, case-sensitively, defaulted), audited,
// admitted by the mutating and then the validating admission chain, created by the same
// storage, answered as the response writers answer (audited, and byte for byte the same; a
// push's success Status in compact JSON is written here, everything else by them) and counted
// in the same request metrics. The mapping that admission sees carries no managedFields entry.
//
// Anything else goes to the generic handler untouched: other verbs and resources, a dry run,
// query parameters, a content type other than JSON or protobuf, an Accept it would transform,
// and any body the fast path does not decode cleanly, unknown or duplicate fields included
// (the generic handler then gives its own error or warnings, from the same bytes).
package mappingfastpath

import (
	"bytes"
	"context"
	"io"
	"mime"
	"net/http"
	"sync/atomic"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/audit"
	requestmetrics "k8s.io/apiserver/pkg/endpoints/handlers/metrics"
	"k8s.io/apiserver/pkg/endpoints/handlers/negotiation"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	"k8s.io/apiserver/pkg/endpoints/metrics"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	kjson "sigs.k8s.io/json"
)

// requestTimeoutUpperBound is the generic create handler's own cap on a create: 34 s, or less
// when the request's deadline comes first.
const requestTimeoutUpperBound = 34 * time.Second

var (
	resource = imagev1.GroupVersion.WithResource("imagestreammappings")
	kind     = imagev1.GroupVersion.WithKind("ImageStreamMapping")
)

// Config is what the route needs from the server.
type Config struct {
	// Serializer is the API group's negotiated serializer (the generic handler's).
	Serializer runtime.NegotiatedSerializer
	// HubGroupVersion is the in-memory version requests are decoded to.
	HubGroupVersion schema.GroupVersion
	// Admission is the server's admission chain.
	Admission admission.Interface
	// ObjectInterfaces is what admission plugins use to create, default and convert objects.
	ObjectInterfaces admission.ObjectInterfaces
	// MaxRequestBodyBytes is the server's request body limit; 0 or less is none.
	MaxRequestBodyBytes int64
	// Defaulter applies the scheme's defaults, as decoding through the codecs does.
	Defaulter runtime.ObjectDefaulter
}

// Route serves mapping creates once Serve is called; until then every request goes on.
type Route struct {
	cfg     Config
	storage atomic.Pointer[rest.Creater]
	// inputs are the serializers of the body types the route decodes: JSON and protobuf.
	inputs map[string]runtime.SerializerInfo
	// instrumented counts the request in the API server's request metrics, under the labels
	// the generic handler gives a mapping create.
	instrumented http.HandlerFunc
}

// New returns a route that serves nothing yet.
func New(cfg Config) *Route {
	registerMetrics()
	r := &Route{cfg: cfg, inputs: map[string]runtime.SerializerInfo{}}
	for _, mediaType := range []string{runtime.ContentTypeJSON, runtime.ContentTypeProtobuf} {
		if info, ok := runtime.SerializerInfoForMediaType(cfg.Serializer.SupportedMediaTypes(), mediaType); ok {
			r.inputs[mediaType] = info
		}
	}
	r.instrumented = metrics.InstrumentHandlerFunc(http.MethodPost, resource.Group, resource.Version, resource.Resource, "", "namespace", metrics.APIServerComponent, false, "", r.create)
	return r
}

// Serve makes the route answer mapping creates with storage.
func (r *Route) Serve(storage rest.Creater) { r.storage.Store(&storage) }

// Wrap returns next with the route in front of it.
func (r *Route) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		input, output, ok := r.takes(req)
		if !ok {
			next.ServeHTTP(w, req)
			return
		}
		body, tooLarge, err := r.readBody(req)
		switch {
		case err != nil:
			// The generic handler answers a body that cannot be read (the UTF-8 filter's
			// error, say) with the same error, after the same bytes.
			req.Body = replay(body, failingBody{err: err, closer: req.Body})
			next.ServeHTTP(w, req)
			return
		case tooLarge:
			// And a body over the limit, reading on where the route stopped.
			req.Body = replay(body, req.Body)
			next.ServeHTTP(w, req)
			return
		}
		in, ok := r.decode(input, body)
		if !ok {
			req.Body = replay(body, http.NoBody)
			next.ServeHTTP(w, req)
			return
		}
		servedRequests.Inc()
		requestmetrics.RecordRequestBodySize(req.Context(), resource.GroupResource(), requestmetrics.Create, len(body))
		r.instrumented(w, req.WithContext(withAccepted(req.Context(), accepted{mapping: in, output: output})))
	})
}

// takes tells whether the route serves a request: a POST to imagestreammappings in a
// namespace, with no query, a JSON or protobuf body, and an answer the serializer writes as is.
// It returns the body's serializer and the answer's, negotiated as the response writers
// negotiate it.
func (r *Route) takes(req *http.Request) (input runtime.SerializerInfo, output negotiatedOutput, ok bool) {
	if req.Method != http.MethodPost || r.storage.Load() == nil || req.URL.RawQuery != "" {
		return input, output, false
	}
	info, ok := request.RequestInfoFrom(req.Context())
	if !ok || !info.IsResourceRequest || info.APIGroup != resource.Group || info.APIVersion != resource.Version ||
		info.Resource != resource.Resource || info.Subresource != "" || info.Name != "" || info.Namespace == "" {
		return input, output, false
	}
	contentType := req.Header.Get("Content-Type")
	input, ok = r.inputs[contentType]
	if !ok {
		// Parameters, such as a charset, and other spellings: parsing is slow enough to matter
		// on the hot path, so only what is not already a bare media type is parsed.
		mediaType, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return input, output, false
		}
		if input, ok = r.inputs[mediaType]; !ok {
			return input, output, false
		}
	}
	options, serializer, err := negotiation.NegotiateOutputMediaType(req, r.cfg.Serializer, negotiation.DefaultEndpointRestrictions)
	if err != nil || options.Convert != nil {
		return input, output, false
	}
	return input, negotiatedOutput{serializer: serializer, plain: isPlainJSON(options, serializer)}, true
}

// readBody reads the body within the server's limit. tooLarge means the limit was passed; the
// bytes read so far are returned so that the generic handler can read them again.
func (r *Route) readBody(req *http.Request) (body []byte, tooLarge bool, err error) {
	limit := r.cfg.MaxRequestBodyBytes
	if limit <= 0 {
		body, err = io.ReadAll(req.Body)
		return body, false, err
	}
	if req.ContentLength > limit {
		return nil, true, nil
	}
	lr := &io.LimitedReader{R: req.Body, N: limit + 1}
	body, err = io.ReadAll(lr)
	return body, lr.N <= 0, err
}

// replay is a body that yields read and then what is left of rest.
func replay(read []byte, rest io.ReadCloser) io.ReadCloser {
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(read), rest), rest}
}

// failingBody fails every read with the error the first reading met.
type failingBody struct {
	err    error
	closer io.Closer
}

func (b failingBody) Read([]byte) (int, error) { return 0, b.err }
func (b failingBody) Close() error             { return b.closer.Close() }

// accepted is what the route hands from the filter chain to its instrumented handler: the
// decoded mapping and how to answer.
type accepted struct {
	mapping *imagev1.ImageStreamMapping
	output  negotiatedOutput
}

type acceptedKey struct{}

func withAccepted(ctx context.Context, a accepted) context.Context {
	return context.WithValue(ctx, acceptedKey{}, a)
}

// decode decodes the body as the generic handler does under the default field validation:
// strictly. ok is false for anything the generic handler should answer instead: a decoding
// error, unknown or duplicate fields (which it turns into warnings), another kind or API
// version, owner references (which it deduplicates with warnings). A mapping the route takes
// is therefore always image.openshift.io/v1 and has no warnings.
func (r *Route) decode(s runtime.SerializerInfo, body []byte) (*imagev1.ImageStreamMapping, bool) {
	if s.MediaType == runtime.ContentTypeJSON && r.cfg.Defaulter != nil {
		return r.decodeJSON(body)
	}
	decodeSerializer := s.Serializer
	if s.StrictSerializer != nil {
		decodeSerializer = s.StrictSerializer
	}
	decoder := r.cfg.Serializer.DecoderToVersion(decodeSerializer, r.cfg.HubGroupVersion)
	defaultGVK := kind
	obj, gvk, err := decoder.Decode(body, &defaultGVK, &imagev1.ImageStreamMapping{})
	if err != nil {
		return nil, false
	}
	ism, ok := obj.(*imagev1.ImageStreamMapping)
	if !ok || gvk == nil || gvk.GroupVersion() != imagev1.GroupVersion || len(ism.OwnerReferences) > 0 {
		return nil, false
	}
	return ism, true
}

// decodeJSON is what the codecs do with a JSON mapping, without their first pass over the
// body to find its apiVersion and kind (a whole encoding/json scan, some 5 % of a push's CPU):
// the strict, case-sensitive decoding into the mapping, its apiVersion and kind defaulted as
// the serializer defaults them, then the scheme's defaults. The codecs' first pass matches
// apiVersion and kind case-insensitively, so a body with any unknown field (such as "Kind")
// goes to the generic handler, which also turns them into warnings.
func (r *Route) decodeJSON(body []byte) (*imagev1.ImageStreamMapping, bool) {
	ism := &imagev1.ImageStreamMapping{}
	strictErrs, err := kjson.UnmarshalStrict(body, ism)
	if err != nil || len(strictErrs) > 0 || len(ism.OwnerReferences) > 0 {
		return nil, false
	}
	gv, err := schema.ParseGroupVersion(ism.APIVersion)
	if err != nil {
		return nil, false
	}
	actual := gv.WithKind(ism.Kind)
	if actual.Kind == "" {
		actual.Kind = kind.Kind
	}
	if actual.Version == "" && (actual.Group == "" || actual.Group == kind.Group) {
		actual.Group, actual.Version = kind.Group, kind.Version
	}
	if actual != kind {
		return nil, false
	}
	r.cfg.Defaulter.Default(ism)
	return ism, true
}

// create runs what the generic create handler runs after decoding, in its order, and answers.
func (r *Route) create(w http.ResponseWriter, req *http.Request) {
	ctx := req.Context()
	in := ctx.Value(acceptedKey{}).(accepted)
	obj := in.mapping
	info, _ := request.RequestInfoFrom(ctx)
	namespace := info.Namespace
	ctx, cancel := context.WithTimeout(ctx, requestTimeoutUpperBound)
	defer cancel()
	fail := func(err error) {
		responsewriters.ErrorNegotiated(err, r.cfg.Serializer, resource.GroupVersion(), w, req)
	}

	ctx = request.WithNamespace(ctx, namespace)
	admit := admission.WithAudit(r.cfg.Admission)
	// Audited as received, before the namespace is filled in, as the generic handler does.
	audit.LogRequestObject(ctx, obj, imagev1.GroupVersion, resource, "", r.cfg.Serializer)
	rest.WipeObjectMetaSystemFields(obj)
	if err := rest.EnsureObjectNamespaceMatchesRequestNamespace(namespace, obj); err != nil {
		fail(err)
		return
	}
	userInfo, _ := request.UserFrom(ctx)
	options := &metav1.CreateOptions{}
	options.SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind("CreateOptions"))
	attributes := admission.NewAttributesRecord(obj, nil, kind, namespace, obj.Name, resource, "", admission.Create, options, false, userInfo)
	if mutating, ok := admit.(admission.MutationInterface); ok && mutating.Handles(admission.Create) {
		if err := mutating.Admit(ctx, attributes, r.cfg.ObjectInterfaces); err != nil {
			fail(err)
			return
		}
	}
	storage := *r.storage.Load()
	result, err := storage.Create(ctx, obj, rest.AdmissionToValidateObjectFunc(admit, attributes, r.cfg.ObjectInterfaces), options)
	if err != nil {
		fail(err)
		return
	}
	code := http.StatusCreated
	if status, ok := result.(*metav1.Status); ok && status.Code == 0 {
		status.Code = int32(code)
	}
	r.respond(w, req, code, result, in.output)
}
