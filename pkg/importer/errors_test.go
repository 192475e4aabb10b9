package importer

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// wantStatus is what a test expects of an entry's Status.
type wantStatus struct {
	code    int32
	reason  metav1.StatusReason
	message string // a substring
}

func checkStatus(t *testing.T, got metav1.Status, want wantStatus) {
	t.Helper()
	if want.code == 0 {
		if got.Status != metav1.StatusSuccess {
			t.Errorf("status %+v, want Success", got)
		}
		return
	}
	if got.Status != metav1.StatusFailure || got.Code != want.code || got.Reason != want.reason || !strings.Contains(got.Message, want.message) {
		t.Errorf("status %d %s %q, want %d %s containing %q", got.Code, got.Reason, got.Message, want.code, want.reason, want.message)
	}
	if d := got.Details; d == nil || d.Group != imagev1.GroupName || d.Kind != "dockerimage" || d.Name == "" {
		t.Errorf("status details %+v, want the image named", got.Details)
	}
}

func TestCredentials(t *testing.T) {
	private := startRegistry(t, true, basicAuth)
	private.pushImage("ns/app:v1")
	public := startRegistry(t, true, publicWithAuth)
	public.pushImage("ns/app:v1")

	for _, tc := range []struct {
		name     string
		reg      *testRegistry
		keychain func(host string) authn.Keychain
		want     wantStatus
	}{
		{"private without credentials", private, nil,
			wantStatus{401, metav1.StatusReasonUnauthorized, `you may not have access to the container image "` + "HOST/ns/app:v1" + `"`}},
		{"private with a pull secret", private, func(host string) authn.Keychain {
			return keychainFor(t, pullSecret(host, testUser, testPassword))
		}, wantStatus{}},
		{"private with a pull secret for the repository", private, func(host string) authn.Keychain {
			return keychainFor(t, pullSecret(host+"/ns", testUser, testPassword), pullSecret(host, "other", "wrong"))
		}, wantStatus{}},
		// The anonymous retry fails too: the first answer is kept.
		{"private with a wrong password", private, func(host string) authn.Keychain {
			return keychainFor(t, pullSecret(host, testUser, "wrong"))
		}, wantStatus{401, metav1.StatusReasonUnauthorized, `incorrect username or password for image "HOST/ns/app:v1"`}},
		// A stale secret in front of a public image: the anonymous retry succeeds.
		{"public with a wrong password", public, func(host string) authn.Keychain {
			return keychainFor(t, pullSecret(host, testUser, "wrong"))
		}, wantStatus{}},
		{"public anonymously", public, nil, wantStatus{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var kc authn.Keychain
			if tc.keychain != nil {
				kc = tc.keychain(tc.reg.host)
			}
			tc.want.message = strings.ReplaceAll(tc.want.message, "HOST", tc.reg.host)
			isi := images(imagev1.TagImportPolicy{}, tc.reg.host+"/ns/app:v1")
			isi.Spec.Repository = &imagev1.RepositoryImportSpec{From: corev1Ref(tc.reg.host + "/ns/app")}
			status := New(fastOptions(t)).Import(context.Background(), isi, nil, kc)
			checkStatus(t, status.Images[0].Status, tc.want)
			if tc.want.code == 0 && status.Images[0].Image == nil {
				t.Error("success without an image")
			}
			repoWant := tc.want
			repoWant.message = strings.TrimSuffix(strings.TrimSuffix(repoWant.message, `:v1"`), `"`)
			checkStatus(t, status.Repository.Status, repoWant)
		})
	}
}

// flaky answers the first `failures` manifest requests with code, then serves normally.
type flaky struct {
	mu       sync.Mutex
	failures int
	code     int
	attempts int
}

func (f *flaky) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") {
			f.mu.Lock()
			f.attempts++
			fail := f.attempts <= f.failures
			f.mu.Unlock()
			if fail {
				http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"try later"}]}`, f.code)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name         string
		failures     int
		code         int
		want         wantStatus
		wantAttempts int
	}{
		{"429 then success", 1, http.StatusTooManyRequests, wantStatus{}, 2},
		{"503 twice then success", 2, http.StatusServiceUnavailable, wantStatus{}, 3},
		{"500 persistently", 100, http.StatusInternalServerError,
			wantStatus{500, metav1.StatusReasonInternalError, "Internal error occurred: HOST/ns/app:v1: "}, 3},
		{"404 is not retried", 100, http.StatusNotFound, wantStatus{404, metav1.StatusReasonNotFound, "not found"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &flaky{failures: tc.failures, code: tc.code}
			reg := startRegistry(t, true, f.wrap)
			reg.pushImage("ns/app:v1")
			tc.want.message = strings.ReplaceAll(tc.want.message, "HOST", reg.host)
			st := New(fastOptions(t)).Import(context.Background(), images(imagev1.TagImportPolicy{}, reg.host+"/ns/app:v1"), nil, nil).Images[0]
			checkStatus(t, st.Status, tc.want)
			if f.attempts != tc.wantAttempts {
				t.Errorf("%d attempts, want %d", f.attempts, tc.wantAttempts)
			}
		})
	}
}

func TestInsecure(t *testing.T) {
	plain := startRegistry(t, false, nil)
	plain.pushImage("ns/app:v1")
	tls := startRegistry(t, true, nil)
	tls.pushImage("ns/app:v1")

	for _, tc := range []struct {
		name     string
		reg      *testRegistry
		insecure bool
		trusted  bool
		want     wantStatus
	}{
		{"HTTP only", plain, false, true,
			wantStatus{400, metav1.StatusReasonBadRequest, "the repository HOST/ns/app is HTTP only and requires the insecure flag to import"}},
		{"HTTP only, insecure", plain, true, true, wantStatus{}},
		{"untrusted certificate", tls, false, false, wantStatus{500, metav1.StatusReasonInternalError, "certificate"}},
		{"untrusted certificate, insecure", tls, true, false, wantStatus{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := fastOptions(t)
			if !tc.trusted {
				opts.Transport = nil
			}
			tc.want.message = strings.ReplaceAll(tc.want.message, "HOST", tc.reg.host)
			isi := images(imagev1.TagImportPolicy{Insecure: tc.insecure}, tc.reg.host+"/ns/app:v1")
			// The policy is per image: a secure neighbour in the same request stays secure.
			isi.Spec.Images = append(isi.Spec.Images, images(imagev1.TagImportPolicy{}, tc.reg.host+"/ns/app:v1").Spec.Images...)
			status := New(opts).Import(context.Background(), isi, nil, nil)
			checkStatus(t, status.Images[0].Status, tc.want)
			if tc.insecure && status.Images[1].Status.Status == metav1.StatusSuccess {
				t.Errorf("the image without insecure was imported insecurely")
			}
		})
	}
}

func TestAllowedRegistries(t *testing.T) {
	reg := startRegistry(t, true, nil)
	reg.pushImage("ns/app:v1")
	for _, tc := range []struct {
		allowed []string
		ok      bool
	}{
		{nil, true},
		{[]string{"quay.io", reg.host}, true},
		{[]string{"127.0.0.*:" + strings.Split(reg.host, ":")[1]}, true},
		{[]string{"127.0.0.1"}, false},  // another port
		{[]string{"127.0.0.1:*"}, true}, // any port
		{[]string{"localhost:*"}, false},
		{[]string{"quay.io", "*.example.com"}, false},
	} {
		opts := fastOptions(t)
		opts.AllowedRegistries = tc.allowed
		isi := images(imagev1.TagImportPolicy{}, reg.host+"/ns/app:v1")
		isi.Spec.Repository = &imagev1.RepositoryImportSpec{From: corev1Ref(reg.host + "/ns/app")}
		before := reg.limitedRequests()
		status := New(opts).Import(context.Background(), isi, nil, nil)
		want := wantStatus{}
		if !tc.ok {
			want = wantStatus{403, metav1.StatusReasonForbidden, `importing images from registry "` + reg.host + `" is forbidden: only the registries given by ` + AllowedRegistriesFlag}
			if n := reg.limitedRequests() - before; n != 0 {
				t.Errorf("%v: %d requests to a refused registry", tc.allowed, n)
			}
		}
		checkStatus(t, status.Images[0].Status, want)
		checkStatus(t, status.Repository.Status, want)
	}

	imp := New(Options{AllowedRegistries: []string{"docker.io", "*.quay.io", "insecure.example.com"}})
	for spec, ok := range map[string]bool{
		"redis":                          true,
		"docker.io/library/redis":        true,
		"eu.quay.io/a/b":                 true,
		"quay.io/a/b":                    false,
		"insecure.example.com:443/a":     true,
		"insecure.example.com:80/a":      false, // port 80 only for insecure images
		"insecure.example.com:5000/a/b":  false,
		"registry.example.com/ns/app:v1": false,
	} {
		src, err := parseSource(spec, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := imp.allowed(src); got != ok {
			t.Errorf("%s allowed = %v, want %v", spec, got, ok)
		}
	}
	ipv6 := New(Options{AllowedRegistries: []string{"[fd00::1]", "[fd00::2]:5000"}})
	for spec, ok := range map[string]bool{
		"[fd00::1]/ns/app":      true,
		"[fd00::1]:443/ns/app":  true,
		"[fd00::1]:5000/ns/app": false,
		"[fd00::2]:5000/ns/app": true,
		"[fd00::2]/ns/app":      false,
		"[fd00::3]/ns/app":      false,
	} {
		src, err := parseSource(spec, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := ipv6.allowed(src); got != ok {
			t.Errorf("%s allowed by IPv6 patterns = %v, want %v", spec, got, ok)
		}
	}
	src, _ := parseSource("insecure.example.com:80/a", true)
	if !imp.allowed(src) {
		t.Error("port 80 of an insecure image should match a pattern without port")
	}
}

func TestInvalidAndUnsupported(t *testing.T) {
	isi := images(imagev1.TagImportPolicy{}, "Not/Valid", "quay.io")
	isi.Spec.Images = append(isi.Spec.Images, imagev1.ImageImportSpec{From: corev1Ref("x")})
	isi.Spec.Images[2].From.Kind = "ImageStreamTag"
	status := New(fastOptions(t)).Import(context.Background(), isi, nil, nil)
	checkStatus(t, status.Images[0].Status, wantStatus{422, metav1.StatusReasonInvalid, "from.name: Invalid value"})
	checkStatus(t, status.Images[1].Status, wantStatus{422, metav1.StatusReasonInvalid, "the provided repository name is not valid"})
	checkStatus(t, status.Images[2].Status, wantStatus{422, metav1.StatusReasonInvalid, "from.kind: Unsupported value"})
}

// tamper serves manifests with one byte more than the registry has.
func tamper(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/manifests/") {
			next.ServeHTTP(w, r)
			return
		}
		rec := &recorder{header: http.Header{}}
		next.ServeHTTP(rec, r)
		body := append(bytes.TrimSpace(rec.body.Bytes()), ' ')
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.code)
		_, _ = w.Write(body)
	})
}

type recorder struct {
	header http.Header
	body   bytes.Buffer
	code   int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(code int)        { r.code = code }

var _ io.Writer = (*recorder)(nil)

func TestContentIntegrity(t *testing.T) {
	var on bool
	reg := startRegistry(t, true, func(next http.Handler) http.Handler {
		tampered := tamper(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if on {
				tampered.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	img := reg.pushImage("ns/app:v1")
	idx := reg.pushIndex("ns/app:list", "application/vnd.oci.image.index.v1+json", "linux/amd64")
	on = true
	isi := images(imagev1.TagImportPolicy{}, reg.host+"/ns/app@"+digestOf(t, img), reg.host+"/ns/app@"+digestOf(t, idx), reg.host+"/ns/app:list")
	status := New(fastOptions(t)).Import(context.Background(), isi, nil, nil)
	for i := range isi.Spec.Images {
		checkStatus(t, status.Images[i].Status, wantStatus{500, metav1.StatusReasonInternalError, "content integrity error"})
	}
}
