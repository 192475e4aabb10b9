package filters

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// testBodyTimeout is short, so that the tests run quickly, but long enough for a body of a few
// bytes to arrive on a loaded machine. The large body gets a server with a generous timeout.
const testBodyTimeout = 500 * time.Millisecond

// answeredWithin bounds every wait of these tests: it only proves that nothing hangs.
const answeredWithin = 20 * time.Second

// handlerResult is what the test handler saw.
type handlerResult struct {
	read    int
	readErr error
	// ctxErrAtReadErr is the request context's error when the body read failed.
	ctxErrAtReadErr error
	// ctxErrAfterWork is the context's error after the handler worked past the body timeout.
	ctxErrAfterWork error
}

// newTestServer serves WithRequestBodyTimeout(handler) over TLS with HTTP/1.1 and HTTP/2, and
// returns clients for each protocol. The handler reads the body, then, when the request has
// ?work, waits twice testBodyTimeout before answering, as a slow storage write would; it
// reports what it saw on results.
func newTestServer(t *testing.T, timeout time.Duration) (srv *httptest.Server, clients map[string]*http.Client, results chan handlerResult) {
	t.Helper()
	results = make(chan handlerResult, 10)
	handler := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var res handlerResult
		defer func() { results <- res }()
		if req.URL.Query().Has("reject") {
			// Answer without reading the body, as a request refused before its body is needed.
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		data, err := io.ReadAll(req.Body)
		res.read = len(data)
		if err != nil {
			// The API handlers close the body at once; the request must still not be cancelled
			// because of the body deadline, or the generic chain would answer 504 instead.
			_ = req.Body.Close()
			select {
			case <-req.Context().Done():
			case <-time.After(testBodyTimeout / 2):
			}
			res.readErr, res.ctxErrAtReadErr = err, req.Context().Err()
			code := http.StatusInternalServerError
			var status apierrors.APIStatus
			if errors.As(err, &status) {
				code = int(status.Status().Code)
			}
			http.Error(w, err.Error(), code)
			return
		}
		if req.URL.Query().Has("work") {
			select {
			case <-time.After(2 * testBodyTimeout):
			case <-req.Context().Done():
			}
			res.ctxErrAfterWork = req.Context().Err()
		}
		w.WriteHeader(http.StatusOK)
	})
	srv = httptest.NewUnstartedServer(WithRequestBodyTimeout(handler, timeout))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{NextProtos: []string{"h2", "http/1.1"}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	clients = map[string]*http.Client{
		"HTTP/1.1": {Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, NextProtos: []string{"http/1.1"}}}},
		"HTTP/2.0": {Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}},
	}
	return srv, clients, results
}

func TestRequestBodyTimeout(t *testing.T) {
	srv, clients, results := newTestServer(t, testBodyTimeout)
	generous, generousClients, generousResults := newTestServer(t, answeredWithin)
	for proto, client := range clients {
		t.Run(proto, func(t *testing.T) {
			do := func(req *http.Request) (*http.Response, string) {
				t.Helper()
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("no answer: %v", err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				if resp.Proto != proto {
					t.Fatalf("served over %s, want %s", resp.Proto, proto)
				}
				return resp, string(body)
			}
			result := func() handlerResult {
				t.Helper()
				select {
				case r := <-results:
					return r
				case <-time.After(answeredWithin):
					t.Fatal("the handler did not return")
				}
				return handlerResult{}
			}
			ctx, cancel := context.WithTimeout(context.Background(), answeredWithin)
			defer cancel()

			t.Run("a body that stops arriving gets 408", func(t *testing.T) {
				pr, pw := io.Pipe()
				defer pw.Close()
				go func() { _, _ = pw.Write([]byte(`{"a":`)) }() // and then nothing
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, pr)
				resp, body := do(req)
				if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(body, "not received within") {
					t.Errorf("got %d %q, want 408", resp.StatusCode, body)
				}
				r := result()
				if r.read != len(`{"a":`) {
					t.Errorf("handler read %d bytes before the timeout, want 5", r.read)
				}
				if r.ctxErrAtReadErr != nil {
					t.Errorf("the request context was %v when the body timed out: the handler could not answer 408", r.ctxErrAtReadErr)
				}
			})

			t.Run("a trickled body the handler does not read is bounded too", func(t *testing.T) {
				pr, pw := io.Pipe()
				defer pw.Close()
				go func() { _, _ = pw.Write([]byte(`{"a":`)) }() // and then nothing
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"?reject", pr)
				req.ContentLength = 1000
				if resp, body := do(req); resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("got %d %q, want 401", resp.StatusCode, body)
				}
				result()
			})

			t.Run("a large body passes", func(t *testing.T) {
				payload := bytes.Repeat([]byte("x"), 3<<20)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, generous.URL, bytes.NewReader(payload))
				resp, err := generousClients[proto].Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("got %d, want 200", resp.StatusCode)
				}
				if r := <-generousResults; r.read != len(payload) || r.readErr != nil {
					t.Errorf("handler read %d bytes (%v), want %d", r.read, r.readErr, len(payload))
				}
			})

			t.Run("work after the body may take longer than the timeout", func(t *testing.T) {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"?work", strings.NewReader(`{}`))
				if resp, body := do(req); resp.StatusCode != http.StatusOK {
					t.Errorf("got %d %q, want 200", resp.StatusCode, body)
				}
				if r := result(); r.ctxErrAfterWork != nil {
					t.Errorf("the request context was %v after working past the body timeout", r.ctxErrAfterWork)
				}
				// The connection is reused for the next request, with no deadline left over.
				req, _ = http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader(`{}`))
				if resp, body := do(req); resp.StatusCode != http.StatusOK {
					t.Errorf("next request: got %d %q, want 200", resp.StatusCode, body)
				}
				result()
			})

			t.Run("requests without a body are not bounded", func(t *testing.T) {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"?work", nil)
				if resp, body := do(req); resp.StatusCode != http.StatusOK {
					t.Errorf("got %d %q, want 200", resp.StatusCode, body)
				}
				if r := result(); r.ctxErrAfterWork != nil {
					t.Errorf("the request context was %v", r.ctxErrAfterWork)
				}
			})

			t.Run("a client gone mid-body cancels the request and is a 400, not a 500", func(t *testing.T) {
				pr, pw := io.Pipe()
				defer pw.Close()
				reqCtx, cancelReq := context.WithCancel(ctx)
				req, _ := http.NewRequestWithContext(reqCtx, http.MethodPost, srv.URL+"?work", pr)
				req.ContentLength = 1000
				errc := make(chan error, 1)
				go func() {
					resp, err := client.Do(req)
					if err == nil {
						resp.Body.Close()
					}
					errc <- err
				}()
				if _, err := pw.Write([]byte("abc")); err != nil {
					t.Fatal(err)
				}
				cancelReq()
				// The transport waits for its body writer, which reads the pipe.
				_ = pw.CloseWithError(context.Canceled)
				<-errc
				r := result()
				var status apierrors.APIStatus
				if !errors.As(r.readErr, &status) || status.Status().Code != http.StatusBadRequest {
					t.Errorf("body read error %v, want a 400 Status", r.readErr)
				}
			})
		})
	}
}

func TestRequestBodyTimeoutDisabled(t *testing.T) {
	inner := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	if got := WithRequestBodyTimeout(inner, 0); got == nil {
		t.Fatal("nil handler")
	}
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("x"))
	var seen io.ReadCloser
	WithRequestBodyTimeout(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r.Body }), 0).
		ServeHTTP(httptest.NewRecorder(), req)
	if _, wrapped := seen.(*deadlineBody); wrapped {
		t.Error("a zero timeout still wraps the body")
	}
}
