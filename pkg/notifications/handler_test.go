package notifications

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

const childDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"

// fakeFetcher serves one manifest (a list with one child when list is set) or fails with err.
type fakeFetcher struct {
	list     bool
	err      error
	insecure bool
	repo     string
}

func (f *fakeFetcher) FetchDigest(_ context.Context, repository, digest string, insecure bool, _ authn.Keychain) (*imagev1.Image, []imagev1.Image, error) {
	f.repo, f.insecure = repository, insecure
	if f.err != nil {
		return nil, nil, f.err
	}
	img := &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: digest}, DockerImageReference: repository + "@" + digest}
	if !f.list {
		return img, nil, nil
	}
	img.DockerImageManifests = []imagev1.ImageManifest{{Digest: childDigest}}
	return img, []imagev1.Image{{ObjectMeta: metav1.ObjectMeta{Name: childDigest}}}, nil
}

// fakeRecorder keeps what was written, in order, or fails with err.
type fakeRecorder struct {
	writes []string
	err    error
}

func (r *fakeRecorder) CreateImage(_ context.Context, img *imagev1.Image) error {
	if r.err != nil {
		return r.err
	}
	r.writes = append(r.writes, "image "+img.Name+" "+img.DockerImageReference)
	return nil
}

func (r *fakeRecorder) Map(_ context.Context, ns, name, tag string, img *imagev1.Image) error {
	if r.err != nil {
		return r.err
	}
	r.writes = append(r.writes, "map "+ns+"/"+name+":"+tag+" "+img.Name+" "+img.DockerImageReference)
	return nil
}

func post(t *testing.T, h http.Handler, token string, events ...Event) (*httptest.ResponseRecorder, Answer) {
	t.Helper()
	body, _ := json.Marshal(Envelope{Events: events})
	req := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
	req.Header.Set("Content-Type", MediaType)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var answer Answer
	if rec.Code < 300 || rec.Code == http.StatusServiceUnavailable {
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Fatalf("answer %q: %v", rec.Body.String(), err)
		}
	}
	return rec, answer
}

func newTestHandler(t *testing.T, f Fetcher, r Recorder, host string) *Handler {
	h, err := New(Config{Token: []byte("s3cret"), Fetcher: f, Recorder: r, RegistryHost: host})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHandlerRecords(t *testing.T) {
	byDigest := manifestPush(func(e *Event) { e.Target.Tag = "" })
	ignored := manifestPush(func(e *Event) { e.Action = "pull" })
	rejected := manifestPush(func(e *Event) { e.Target.Repository = "noslash" })
	tests := []struct {
		name    string
		list    bool
		events  []Event
		want    []string
		results []string
	}{
		{
			name:    "by tag",
			events:  []Event{manifestPush(nil)},
			want:    []string{"map team/app:1.0 " + testDigest + " registry.example.com/team/app@" + testDigest},
			results: []string{outcomeRecorded},
		},
		{
			name:    "by digest",
			events:  []Event{byDigest},
			want:    []string{"image " + testDigest + " registry.example.com/team/app@" + testDigest},
			results: []string{outcomeRecorded},
		},
		{
			name:   "list by tag: the child first",
			list:   true,
			events: []Event{manifestPush(nil)},
			want: []string{
				"image " + childDigest + " registry.example.com/team/app@" + childDigest,
				"map team/app:1.0 " + testDigest + " registry.example.com/team/app@" + testDigest,
			},
			results: []string{outcomeRecorded},
		},
		{
			name:    "a batch with ignored and rejected events",
			events:  []Event{ignored, rejected, manifestPush(nil)},
			want:    []string{"map team/app:1.0 " + testDigest + " registry.example.com/team/app@" + testDigest},
			results: []string{outcomeIgnored, outcomeRejected, outcomeRecorded},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, r := &fakeFetcher{list: tt.list}, &fakeRecorder{}
			rec, answer := post(t, newTestHandler(t, f, r, ""), "s3cret", tt.events...)
			if rec.Code != http.StatusOK {
				t.Fatalf("code %d: %s", rec.Code, rec.Body)
			}
			if len(answer.Events) != len(tt.results) {
				t.Fatalf("answer %+v", answer)
			}
			for i, want := range tt.results {
				if answer.Events[i].Outcome != want {
					t.Errorf("event %d: %+v, want %s", i, answer.Events[i], want)
				}
			}
			if !slices.Equal(r.writes, tt.want) {
				t.Errorf("writes %q, want %q", r.writes, tt.want)
			}
			if f.repo != "registry.internal:5000/team/app" || f.insecure {
				t.Errorf("fetched from %q insecure=%v", f.repo, f.insecure)
			}
		})
	}
}

func TestHandlerHostOverrideAndHTTP(t *testing.T) {
	f, r := &fakeFetcher{}, &fakeRecorder{}
	ev := manifestPush(func(e *Event) { e.Target.URL = "http://10.0.0.1:5000/v2/team/app/manifests/" + testDigest })
	rec, _ := post(t, newTestHandler(t, f, r, "registry.public"), "s3cret", ev)
	if rec.Code != http.StatusOK || len(r.writes) != 1 || r.writes[0] != "map team/app:1.0 "+testDigest+" registry.public/team/app@"+testDigest {
		t.Fatalf("code %d writes %q", rec.Code, r.writes)
	}
	if f.repo != "10.0.0.1:5000/team/app" || !f.insecure {
		t.Errorf("fetched from %q insecure=%v", f.repo, f.insecure)
	}
}

func TestHandlerFailures(t *testing.T) {
	gr := schema.GroupResource{Group: "image.openshift.io", Resource: "imagestreammappings"}
	tests := []struct {
		name       string
		fetchErr   error
		recordErr  error
		wantCode   int
		wantResult string
	}{
		{name: "manifest gone", fetchErr: apierrors.NewNotFound(gr, "x"), wantCode: http.StatusOK, wantResult: outcomeRejected},
		{name: "registry down", fetchErr: apierrors.NewInternalError(errors.New("connection refused")), wantCode: http.StatusServiceUnavailable, wantResult: outcomeRetry},
		{name: "credentials refused", fetchErr: apierrors.NewUnauthorized("no"), wantCode: http.StatusServiceUnavailable, wantResult: outcomeRetry},
		{name: "plain error", fetchErr: errors.New("dial tcp: refused"), wantCode: http.StatusServiceUnavailable, wantResult: outcomeRetry},
		{name: "etcd timeout", recordErr: apierrors.NewTimeoutError("etcd", 1), wantCode: http.StatusServiceUnavailable, wantResult: outcomeRetry},
		{name: "stream too large", recordErr: apierrors.NewRequestEntityTooLargeError("stream"), wantCode: http.StatusOK, wantResult: outcomeRejected},
		{name: "invalid tag", recordErr: apierrors.NewInvalid(schema.GroupKind{Group: "image.openshift.io", Kind: "ImageStreamMapping"}, "app", nil), wantCode: http.StatusOK, wantResult: outcomeRejected},
		{name: "contention", recordErr: apierrors.NewConflict(gr, "app", errors.New("busy")), wantCode: http.StatusServiceUnavailable, wantResult: outcomeRetry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHandler(t, &fakeFetcher{err: tt.fetchErr}, &fakeRecorder{err: tt.recordErr}, "")
			rec, answer := post(t, h, "s3cret", manifestPush(nil))
			if rec.Code != tt.wantCode || len(answer.Events) != 1 || answer.Events[0].Outcome != tt.wantResult {
				t.Fatalf("code %d answer %+v", rec.Code, answer)
			}
			if (rec.Code == http.StatusServiceUnavailable) != (rec.Header().Get("Retry-After") != "") {
				t.Errorf("Retry-After %q with code %d", rec.Header().Get("Retry-After"), rec.Code)
			}
		})
	}
}

func TestHandlerRefuses(t *testing.T) {
	r := &fakeRecorder{}
	h := newTestHandler(t, &fakeFetcher{}, r, "")
	for _, token := range []string{"", "wrong", "s3cret2", "s3cre"} {
		if rec, _ := post(t, h, token, manifestPush(nil)); rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("token %q: code %d", token, rec.Code)
		}
	}
	req := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader([]byte(`{}`)))
	req.Header.Set("Content-Type", MediaType)
	req.Header.Set("Authorization", "Basic czNjcmV0")
	if rec := serve(h, req); rec.Code != http.StatusUnauthorized {
		t.Errorf("basic auth: code %d", rec.Code)
	}

	req = httptest.NewRequest(http.MethodGet, Path, nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	if rec := serve(h, req); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: code %d", rec.Code)
	}
	req = httptest.NewRequest(http.MethodPost, Path, bytes.NewReader([]byte(`{}`)))
	req.Header.Set("Authorization", "Bearer s3cret")
	req.Header.Set("Content-Type", "text/plain")
	if rec := serve(h, req); rec.Code != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: code %d", rec.Code)
	}
	req = httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(make([]byte, maxBodyBytes+1)))
	req.Header.Set("Authorization", "Bearer s3cret")
	req.Header.Set("Content-Type", MediaType)
	if rec := serve(h, req); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("large body: code %d", rec.Code)
	}
	// Undecodable: acknowledged, so that it can never block the registry's queue.
	req = httptest.NewRequest(http.MethodPost, Path, bytes.NewReader([]byte(`{"events":[`)))
	req.Header.Set("Authorization", "Bearer s3cret")
	req.Header.Set("Content-Type", MediaType+"; charset=utf-8")
	if rec := serve(h, req); rec.Code != http.StatusOK {
		t.Errorf("undecodable: code %d", rec.Code)
	}
	if len(r.writes) != 0 {
		t.Errorf("refused requests wrote %q", r.writes)
	}
	if _, err := New(Config{Fetcher: &fakeFetcher{}, Recorder: r}); err == nil {
		t.Error("a handler without a token or a client CA was built")
	}
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
