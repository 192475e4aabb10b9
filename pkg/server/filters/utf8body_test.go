package filters

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func TestUTF8Body(t *testing.T) {
	tests := []struct {
		name string
		body string
		// bad is the offset of the first invalid byte, -1 when the body is valid.
		bad int64
	}{
		{name: "ASCII", body: `{"a":"b"}`, bad: -1},
		{name: "two-, three- and four-byte characters", body: `{"a":"é€𝄞"}`, bad: -1},
		{name: "a literal replacement character", body: "{\"a\":\"\uFFFD\"}", bad: -1},
		{name: "empty", body: "", bad: -1},
		{name: "invalid byte", body: "{\"a\":\"bad\xff\"}", bad: 9},
		{name: "invalid first byte", body: "\xfe{}", bad: 0},
		{name: "stray continuation byte", body: "ab\x80", bad: 2},
		{name: "overlong encoding", body: "a\xc0\xafb", bad: 1},
		{name: "surrogate half", body: "a\xed\xa0\x80b", bad: 1},
		{name: "character cut by the next one", body: "a\xe2\x82b", bad: 1},
		{name: "body ends inside a character", body: "a€\xe2\x82", bad: 4},
		{name: "body ends with a lone lead byte", body: "ab\xf0", bad: 2},
	}
	for _, tc := range tests {
		for _, chunk := range []int{1, 2, 3, 5, 1 << 20} {
			t.Run(tc.name+"/chunks of "+strconv.Itoa(chunk), func(t *testing.T) {
				b := &utf8Body{body: io.NopCloser(&chunkReader{data: []byte(tc.body), chunk: chunk})}
				got, err := io.ReadAll(b)
				if tc.bad < 0 {
					if err != nil {
						t.Fatalf("valid body rejected: %v", err)
					}
					if string(got) != tc.body {
						t.Fatalf("read %q, want %q", got, tc.body)
					}
					return
				}
				var status apierrors.APIStatus
				if !errors.As(err, &status) || status.Status().Code != http.StatusBadRequest {
					t.Fatalf("got %v, want a 400 Status", err)
				}
				if want := "byte " + strconv.Itoa(int(tc.bad)) + ")"; !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			})
		}
	}
}

func TestIsTextMediaType(t *testing.T) {
	tests := map[string]bool{
		"application/json":                       true,
		"application/json; charset=utf-8":        true,
		"application/yaml":                       true,
		"application/merge-patch+json":           true,
		"application/strategic-merge-patch+json": true,
		"application/json-patch+json":            true,
		"application/apply-patch+yaml":           true,
		"application/vnd.kubernetes.protobuf":    false,
		"application/cbor":                       false,
		"text/plain":                             false,
		"":                                       false,
		"application/json;;":                     false,
	}
	for contentType, want := range tests {
		if got := isTextMediaType(contentType); got != want {
			t.Errorf("isTextMediaType(%q) = %v, want %v", contentType, got, want)
		}
	}
}

func TestWithUTF8TextBody(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		want        int
	}{
		{name: "valid JSON", contentType: "application/json", body: `{"a":"é"}`, want: http.StatusOK},
		{name: "invalid JSON", contentType: "application/json", body: "{\"a\":\"\xff\"}", want: http.StatusBadRequest},
		{name: "invalid merge patch", contentType: "application/merge-patch+json", body: "{\"a\":\"\xff\"}", want: http.StatusBadRequest},
		{name: "invalid YAML", contentType: "application/yaml", body: "a: \xff\n", want: http.StatusBadRequest},
		{name: "protobuf is binary", contentType: "application/vnd.kubernetes.protobuf", body: "k8s\x00\xff\xfe", want: http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			handler := WithUTF8TextBody(http.HandlerFunc(readAllHandler))
			req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader([]byte(tc.body)))
			req.Header.Set("Content-Type", tc.contentType)
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("got %d %s, want %d", rec.Code, rec.Body, tc.want)
			}
		})
	}
}

// readAllHandler reads the body like the API handlers and answers 200, or the Status code of
// the read error.
func readAllHandler(w http.ResponseWriter, req *http.Request) {
	if _, err := io.ReadAll(req.Body); err != nil {
		code := http.StatusInternalServerError
		var status apierrors.APIStatus
		if errors.As(err, &status) {
			code = int(status.Status().Code)
		}
		http.Error(w, err.Error(), code)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// chunkReader returns data in reads of at most chunk bytes.
type chunkReader struct {
	data  []byte
	chunk int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.chunk)], r.data)
	r.data = r.data[n:]
	return n, nil
}
