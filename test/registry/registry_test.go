package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/bcrypt"
	"k8s.io/apimachinery/pkg/util/wait"

	// The registry finds its storage driver and access controller by name; these register them.
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

// registryOptions configure a test registry.
type registryOptions struct {
	// user and password, when set, turn on htpasswd (HTTP Basic) authentication.
	user, password string
	// notify, when set, is an endpoint the registry POSTs its events to.
	notify *configuration.Endpoint
}

// testRegistry is a real distribution v3 registry with in-memory storage, served over plain
// HTTP on loopback (its images are imported with importPolicy.insecure).
type testRegistry struct {
	t    testing.TB
	host string
	auth authn.Authenticator
}

func startRegistry(t testing.TB, opts registryOptions) *testRegistry {
	t.Helper()
	cfg := &configuration.Configuration{
		Storage: configuration.Storage{
			"inmemory": configuration.Parameters{},
			"delete":   configuration.Parameters{"enabled": true},
			// The upload purger would run in the background for the process's life.
			"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
		},
	}
	cfg.HTTP.Secret = "registry-tests-secret"
	// Only the YAML parser sets these defaults; the struct's zero values refuse paging.
	cfg.Catalog.MaxEntries = 1000
	r := &testRegistry{t: t, auth: authn.Anonymous}
	if opts.user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(opts.password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd := filepath.Join(t.TempDir(), "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(opts.user+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "registry-tests", "path": htpasswd}}
		r.auth = &authn.Basic{Username: opts.user, Password: opts.password}
	}
	if opts.notify != nil {
		cfg.Notifications.Endpoints = []configuration.Endpoint{*opts.notify}
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := httptest.NewServer(handlers.NewApp(ctx, cfg))
	t.Cleanup(func() {
		srv.Close()
		cancel()
	})
	r.host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

func (r *testRegistry) ref(repoRef string) name.Reference {
	r.t.Helper()
	ref, err := name.ParseReference(r.host+"/"+repoRef, name.Insecure)
	if err != nil {
		r.t.Fatal(err)
	}
	return ref
}

// push pushes a random image of two layers to repoTag.
func (r *testRegistry) push(repoTag string) v1.Image {
	r.t.Helper()
	img, err := r.tryPush(repoTag)
	if err != nil {
		r.t.Fatal(err)
	}
	return img
}

// tryPush is push for goroutines other than the test's, which must not call Fatal.
func (r *testRegistry) tryPush(repoTag string) (v1.Image, error) {
	img, err := random.Image(512, 2)
	if err != nil {
		return nil, err
	}
	ref, err := name.ParseReference(r.host+"/"+repoTag, name.Insecure)
	if err != nil {
		return nil, err
	}
	if err := remote.Write(ref, img, remote.WithAuth(r.auth)); err != nil {
		return nil, fmt.Errorf("pushing %s: %w", repoTag, err)
	}
	return img, nil
}

// pushByDigest pushes a random image to repo under its digest only, which no tag names.
func (r *testRegistry) pushByDigest(repo string) string {
	r.t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		r.t.Fatal(err)
	}
	d := digestOf(r.t, img)
	if err := remote.Write(r.ref(repo+"@"+d), img, remote.WithAuth(r.auth)); err != nil {
		r.t.Fatalf("pushing %s@%s: %v", repo, d, err)
	}
	return d
}

// pushList pushes a Docker manifest list of one random image per "os/arch" to repoTag.
func (r *testRegistry) pushList(repoTag string, platforms ...string) (list string, children []string) {
	r.t.Helper()
	var idx v1.ImageIndex = empty.Index
	for _, p := range platforms {
		img, err := random.Image(256, 1)
		if err != nil {
			r.t.Fatal(err)
		}
		children = append(children, digestOf(r.t, img))
		os, arch, _ := strings.Cut(p, "/")
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: os, Architecture: arch}}})
	}
	idx = mutate.IndexMediaType(idx, types.DockerManifestList)
	if err := remote.WriteIndex(r.ref(repoTag), idx, remote.WithAuth(r.auth)); err != nil {
		r.t.Fatalf("pushing %s: %v", repoTag, err)
	}
	d, err := idx.Digest()
	if err != nil {
		r.t.Fatal(err)
	}
	return d.String(), children
}

// dockerConfig writes a docker config.json holding the registry's credentials.
func (r *testRegistry) dockerConfig(user, password string) string {
	r.t.Helper()
	data, err := json.Marshal(map[string]any{"auths": map[string]any{
		r.host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password))},
	}})
	if err != nil {
		r.t.Fatal(err)
	}
	path := filepath.Join(r.t.TempDir(), "config.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		r.t.Fatal(err)
	}
	return path
}

// notificationEndpoint is the registry's endpoint for a server's notifications, as an
// operator would configure it (see the notifications package's documentation).
func notificationEndpoint(serverURL, token string) *configuration.Endpoint {
	return &configuration.Endpoint{
		Name:    "image-apiserver",
		URL:     serverURL + "/notifications/distribution",
		Headers: http.Header{"Authorization": {"Bearer " + token}},
		// The server reads each pushed manifest back before it answers: more than the default 1s
		// on a loaded test machine.
		Timeout:   10 * time.Second,
		Threshold: 5,
		Backoff:   200 * time.Millisecond,
		// Blob uploads and mounts (media type application/octet-stream) and pulls record
		// nothing: one event a pushed manifest.
		Ignore: configuration.Ignore{MediaTypes: []string{"application/octet-stream"}, Actions: []string{"pull"}},
	}
}

func digestOf(t testing.TB, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond, for what the server does asynchronously, with a generous no-hang
// bound.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(testContext(t), 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return cond(), nil
	}); err != nil {
		t.Fatalf("timed out waiting until %s", what)
	}
}
