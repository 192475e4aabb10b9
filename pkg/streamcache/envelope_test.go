package streamcache

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

func TestObjectInEnvelope(t *testing.T) {
	field := func(num protowire.Number, v string) []byte {
		b := protowire.AppendTag(nil, num, protowire.BytesType)
		return protowire.AppendString(b, v)
	}
	envelope := func(fields ...[]byte) []byte {
		return append(append([]byte{}, protobufPrefix...), bytes.Join(fields, nil)...)
	}
	typeMeta := field(1, "\n\x15image.openshift.io/v1\x12\x0bImageStream")
	for _, tc := range []struct {
		name    string
		value   []byte
		wantRaw string
		wantOK  bool
	}{
		{"typeMeta, raw, empty encoding and type", envelope(typeMeta, field(2, "object"), field(3, ""), field(4, "")), "object", true},
		{"raw alone", envelope(field(2, "object")), "object", true},
		{"empty raw", envelope(typeMeta, field(2, "")), "", true},
		{"no raw", envelope(typeMeta), "", false},
		{"compressed raw", envelope(typeMeta, field(2, "object"), field(3, "gzip")), "", false},
		{"JSON", []byte(`{"kind":"ImageStream"}`), "", false},
		{"prefix only", envelope(), "", false},
		{"truncated field", envelope(typeMeta, field(2, "object"))[:len(protobufPrefix)+len(typeMeta)+3], "", false},
		{"a varint field", envelope(protowire.AppendVarint(protowire.AppendTag(nil, 5, protowire.VarintType), 1)), "", false},
		{"nil", nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, ok := objectInEnvelope(tc.value)
			if ok != tc.wantOK || string(raw) != tc.wantRaw {
				t.Errorf("objectInEnvelope = %q, %v; want %q, %v", raw, ok, tc.wantRaw, tc.wantOK)
			}
		})
	}
}
