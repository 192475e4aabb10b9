package filters

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// WithUTF8TextBody rejects JSON and YAML request bodies (every patch type included) that are
// not valid UTF-8 with a 400 Status. Both formats are UTF-8 text by definition, but Go's JSON
// decoder silently replaces each invalid byte with U+FFFD: the server would store something
// other than what the client sent, and answer 201. The check runs as the handler reads the
// body, costs one pass over bytes that are read anyway, and holds at most three bytes of its
// own. Other media types (protobuf, CBOR) are binary and not checked here.
func WithUTF8TextBody(handler http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Body != nil && req.Body != http.NoBody && isTextMediaType(req.Header.Get("Content-Type")) {
			req.Body = &utf8Body{body: req.Body}
		}
		handler.ServeHTTP(w, req)
	})
}

// isTextMediaType is true for JSON and YAML: application/json, application/yaml and the
// application/*+json and application/*+yaml types of patches.
func isTextMediaType(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	sub, ok := strings.CutPrefix(mediaType, "application/")
	if !ok {
		return false
	}
	return sub == "json" || sub == "yaml" || strings.HasSuffix(sub, "+json") || strings.HasSuffix(sub, "+yaml")
}

// utf8Body checks the bytes read through it. A character split between two reads is held
// back (pending) until its remaining bytes arrive.
type utf8Body struct {
	body io.ReadCloser
	// pending holds the first bytes of a character whose rest has not been read yet.
	pending [utf8.UTFMax]byte
	npend   int
	// offset is the body offset of the first byte of the next read.
	offset int64
}

func (b *utf8Body) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if bad, ok := b.check(p[:n]); !ok {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("the request body is not valid UTF-8 (byte %d): JSON and YAML must be UTF-8 text", bad))
	}
	if errors.Is(err, io.EOF) && b.npend > 0 {
		return n, apierrors.NewBadRequest(fmt.Sprintf("the request body is not valid UTF-8 (it ends inside a character at byte %d): JSON and YAML must be UTF-8 text", b.offset-int64(b.npend)))
	}
	return n, err
}

func (b *utf8Body) Close() error { return b.body.Close() }

// check validates chunk, which follows the pending bytes; it returns the body offset of the
// first invalid byte when there is one.
func (b *utf8Body) check(chunk []byte) (int64, bool) {
	pendingAt := b.offset - int64(b.npend)
	b.offset += int64(len(chunk))
	// Complete the pending character from the head of the chunk.
	for b.npend > 0 && len(chunk) > 0 {
		b.pending[b.npend] = chunk[0]
		b.npend++
		chunk = chunk[1:]
		if utf8.FullRune(b.pending[:b.npend]) {
			if r, size := utf8.DecodeRune(b.pending[:b.npend]); r == utf8.RuneError && size <= 1 {
				return pendingAt, false
			}
			b.npend = 0
		}
	}
	if b.npend > 0 {
		return 0, true // still incomplete, and the chunk is used up
	}
	base := b.offset - int64(len(chunk))
	if utf8.Valid(chunk) {
		return 0, true
	}
	for i := 0; i < len(chunk); {
		r, size := utf8.DecodeRune(chunk[i:])
		if r == utf8.RuneError && size <= 1 {
			rest := chunk[i:]
			if len(rest) < utf8.UTFMax && !utf8.FullRune(rest) {
				// The start of a character that continues in the next read.
				b.npend = copy(b.pending[:], rest)
				return 0, true
			}
			return base + int64(i), false
		}
		i += size
	}
	return 0, true
}
