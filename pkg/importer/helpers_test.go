package importer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// testRegistry is an in-memory registry on loopback, optionally behind a wrapper that plays
// authentication or failures, with a count of the requests that take rate-limit tokens.
type testRegistry struct {
	t      *testing.T
	server *httptest.Server
	host   string

	mu       sync.Mutex
	limited  int // manifest and tag-list requests received
	requests []string
}

// startRegistry starts a registry; tls selects HTTPS with httptest's certificate.
func startRegistry(t *testing.T, tls bool, wrap func(http.Handler) http.Handler) *testRegistry {
	t.Helper()
	r := &testRegistry{t: t}
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	counting := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.requests = append(r.requests, req.Method+" "+req.URL.Path)
		if rateLimited(req.URL.Path) {
			r.limited++
		}
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	})
	r.server = httptest.NewUnstartedServer(counting)
	// Connections the client abandons (its HTTPS/HTTP race) are no news.
	r.server.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		r.server.StartTLS()
	} else {
		r.server.Start()
	}
	t.Cleanup(r.server.Close)
	r.host = strings.TrimPrefix(strings.TrimPrefix(r.server.URL, "https://"), "http://")
	return r
}

// limitedRequests returns how many manifest and tag-list requests arrived so far.
func (r *testRegistry) limitedRequests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.limited
}

// trustingTransport trusts httptest's certificate, which all its TLS servers share.
func trustingTransport(t *testing.T) *http.Transport {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	return srv.Client().Transport.(*http.Transport).Clone()
}

// pushOptions are the options of test pushes: trusting the test certificate, as admin.
func (r *testRegistry) pushOptions() []remote.Option {
	return []remote.Option{
		remote.WithTransport(r.server.Client().Transport),
		remote.WithAuth(&authn.Basic{Username: testUser, Password: testPassword}),
	}
}

func (r *testRegistry) ref(s string) name.Reference {
	r.t.Helper()
	ref, err := name.ParseReference(r.host + "/" + s)
	if err != nil {
		r.t.Fatal(err)
	}
	return ref
}

// pushImage pushes a random image under repoTag ("ns/app:tag") and returns it.
func (r *testRegistry) pushImage(repoTag string) v1.Image {
	r.t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := remote.Write(r.ref(repoTag), img, r.pushOptions()...); err != nil {
		r.t.Fatal(err)
	}
	return img
}

// tag adds a tag to an already pushed image.
func (r *testRegistry) tag(repoTag string, img v1.Image) {
	r.t.Helper()
	if err := remote.Tag(r.ref(repoTag).(name.Tag), img, r.pushOptions()...); err != nil {
		r.t.Fatal(err)
	}
}

// pushIndex pushes a manifest list of mediaType with one random image per platform
// ("os/arch") and returns it.
func (r *testRegistry) pushIndex(repoTag string, mediaType types.MediaType, platforms ...string) v1.ImageIndex {
	r.t.Helper()
	var idx v1.ImageIndex = empty.Index
	for _, p := range platforms {
		img, err := random.Image(256, 1)
		if err != nil {
			r.t.Fatal(err)
		}
		os, arch, _ := strings.Cut(p, "/")
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: os, Architecture: arch}},
		})
	}
	idx = mutate.IndexMediaType(idx, mediaType)
	if err := remote.WriteIndex(r.ref(repoTag), idx, r.pushOptions()...); err != nil {
		r.t.Fatal(err)
	}
	return idx
}

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

const (
	testUser     = "admin"
	testPassword = "s3cret"
)

// basicAuth requires the test credentials on every request.
func basicAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != testUser || p != testPassword {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// publicWithAuth is a registry like Docker Hub's public repositories: it challenges, refuses
// wrong credentials, and serves anonymous pulls (and pushes with the right credentials).
func publicWithAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		wrong := ok && (u != testUser || p != testPassword)
		if wrong || (!ok && (r.URL.Path == "/v2/" || r.Method != http.MethodGet && r.Method != http.MethodHead)) {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// pullSecret is a kubernetes.io/dockerconfigjson Secret for host.
func pullSecret(host, user, password string) corev1.Secret {
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	data, _ := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{"auth": auth}}})
	return corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "pull", Namespace: "ns"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: data},
	}
}

func keychainFor(t *testing.T, secrets ...corev1.Secret) authn.Keychain {
	t.Helper()
	kc, err := KeychainFromSecrets(context.Background(), secrets)
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

// fastOptions are test options: the test certificate trusted, no waiting between retries,
// and a rate limit that does not slow tests (the limit itself has its own tests).
func fastOptions(t *testing.T) Options {
	return Options{
		Transport:   trustingTransport(t),
		RetryWait:   1,
		RegistryQPS: 1e6, RegistryBurst: 1000,
	}
}

// images builds an ISI spec importing each pull spec.
func images(policy imagev1.TagImportPolicy, specs ...string) *imagev1.ImageStreamImport {
	isi := &imagev1.ImageStreamImport{Spec: imagev1.ImageStreamImportSpec{Import: true}}
	for _, s := range specs {
		isi.Spec.Images = append(isi.Spec.Images, imagev1.ImageImportSpec{
			From:         corev1.ObjectReference{Kind: "DockerImage", Name: s},
			ImportPolicy: policy,
		})
	}
	return isi
}

type corev1LocalRef = corev1.LocalObjectReference

func corev1Ref(name string) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "DockerImage", Name: name}
}
