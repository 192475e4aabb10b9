package mappingfastpath

import (
	"fmt"
	"net/http"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apiserver/pkg/audit"
	"k8s.io/apiserver/pkg/endpoints/handlers/negotiation"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	"k8s.io/apiserver/pkg/endpoints/request"
)

// negotiatedOutput is the answer's serializer, negotiated once, when the route takes the
// request.
type negotiatedOutput struct {
	serializer runtime.SerializerInfo
	// plain is true for compact JSON: not pretty-printed, which a pretty parameter or a
	// browser's or curl's User-Agent asks for.
	plain bool
}

// isPlainJSON tells whether the negotiated answer is compact JSON. Negotiation swaps in the
// pretty serializer when pretty printing is asked for, so an unchanged serializer means none.
func isPlainJSON(options negotiation.MediaTypeOptions, info runtime.SerializerInfo) bool {
	return info.MediaType == runtime.ContentTypeJSON && info.Serializer == options.Accepted.Serializer
}

// respond writes the create's answer as responsewriters.WriteObjectNegotiated does: the
// response audited, then written, timed as a serialization. A success Status in compact JSON,
// the answer to every registry push, is encoded here, byte for byte as the JSON codec encodes
// it; that saves a second negotiation, the versioning codec and the reflection of
// encoding/json, a few per cent of a push's CPU. Anything else goes to the response writers.
func (r *Route) respond(w http.ResponseWriter, req *http.Request, code int, result runtime.Object, out negotiatedOutput) {
	var body []byte
	status, ok := result.(*metav1.Status)
	if ok && out.plain {
		body, ok = appendStatusJSON(make([]byte, 0, 320), status)
	}
	if !ok || !out.plain {
		responsewriters.WriteObjectNegotiated(r.cfg.Serializer, negotiation.DefaultEndpointRestrictions, resource.GroupVersion(), w, req, code, result, false)
		return
	}
	ctx := req.Context()
	audit.LogResponseObject(ctx, result, resource.GroupVersion(), r.cfg.Serializer)
	request.TrackSerializeResponseObjectLatency(ctx, func() {
		w.Header().Set("Content-Type", out.serializer.MediaType)
		w.WriteHeader(code)
		if _, err := w.Write(body); err != nil {
			utilruntime.HandleError(fmt.Errorf("apiserver was unable to write a %s response: %w", out.serializer.MediaType, err))
		}
	})
}

// appendStatusJSON appends s as the JSON codec encodes a metav1.Status: kind and apiVersion
// first, the empty list metadata, the fields in declaration order with empty ones left out,
// and a newline. It handles the shapes the mapping storage answers with (no list metadata, no
// reason, details without UID, causes or retry) and strings that encode as they are; ok is
// false for anything else, which the codec then writes.
func appendStatusJSON(dst []byte, s *metav1.Status) (_ []byte, ok bool) {
	if s.ListMeta != (metav1.ListMeta{}) || s.Reason != "" {
		return dst, false
	}
	dst = append(dst, `{"kind":"Status","apiVersion":"v1","metadata":{}`...)
	o := jsonObject{dst: dst, ok: true, fields: 1}
	o.stringField("status", s.Status)
	o.stringField("message", s.Message)
	if d := s.Details; d != nil {
		if d.UID != "" || len(d.Causes) > 0 || d.RetryAfterSeconds != 0 {
			return dst, false
		}
		o.dst = append(o.dst, `,"details":{`...)
		details := jsonObject{dst: o.dst, ok: true}
		details.stringField("name", d.Name)
		details.stringField("group", d.Group)
		details.stringField("kind", d.Kind)
		o.dst, o.ok = append(details.dst, '}'), o.ok && details.ok
	}
	if s.Code != 0 {
		o.dst = append(o.dst, `,"code":`...)
		o.dst = strconv.AppendInt(o.dst, int64(s.Code), 10)
	}
	if !o.ok {
		return dst, false
	}
	return append(o.dst, "}\n"...), true
}

// jsonObject appends the fields of a JSON object whose opening brace is written.
type jsonObject struct {
	dst []byte
	// ok turns false at the first string that would need escaping.
	ok bool
	// fields is how many fields are written, to know when a comma goes first.
	fields int
}

// stringField appends "name":"value", or nothing for an empty value (omitempty).
func (o *jsonObject) stringField(name, value string) {
	if value == "" {
		return
	}
	if !encodesAsIs(value) {
		o.ok = false
		return
	}
	if o.fields > 0 {
		o.dst = append(o.dst, ',')
	}
	o.fields++
	o.dst = append(o.dst, '"')
	o.dst = append(o.dst, name...)
	o.dst = append(o.dst, `":"`...)
	o.dst = append(o.dst, value...)
	o.dst = append(o.dst, '"')
}

// encodesAsIs tells whether encoding/json writes s between quotes unchanged: printable ASCII
// without the quote, the backslash, and the characters its HTML escaping replaces.
func encodesAsIs(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
