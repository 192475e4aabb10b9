package integration

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

const notificationsPath = "/notifications/distribution"

// registryEvent builds a manifest event exactly as a distribution v3 registry sends it (one
// event per POST, in the {"events":[...]} envelope): target is the manifest's descriptor with
// repository, url and, for a push by tag, tag.
func (r *sourceRegistry) registryEvent(action, repo, digest, tag string) map[string]any {
	desc, err := remote.Get(r.ref(repo + "@" + digest))
	if err != nil {
		r.t.Fatal(err)
	}
	target := map[string]any{
		"mediaType":  string(desc.MediaType),
		"digest":     digest,
		"size":       desc.Size,
		"length":     desc.Size,
		"repository": repo,
		"url":        "http://" + r.host + "/v2/" + repo + "/manifests/" + digest,
	}
	if tag != "" {
		target["tag"] = tag
	}
	return map[string]any{
		"id":        "ev-" + strings.TrimPrefix(digest, "sha256:")[:12] + "-" + tag,
		"timestamp": time.Now().UTC().Format(time.RFC3339Nano),
		"action":    action,
		"target":    target,
		"request": map[string]any{
			"id": "req-1", "addr": "127.0.0.1:40000", "host": r.host, "method": "PUT",
			"useragent": "go-containerregistry",
		},
		"actor":  map[string]any{"name": "pusher"},
		"source": map[string]any{"addr": "registry-0:5000", "instanceID": "0b7b1a8e"},
	}
}

// notify POSTs events as the registry does, with token as its bearer token, and returns the
// code and body.
func notify(t *testing.T, s *framework.Server, token string, events ...map[string]any) (int, string) {
	t.Helper()
	return notifyOver(t, s, nil, token, events...)
}

// notifyOver is notify over a TLS configuration that withTLS changes (client certificates).
func notifyOver(t *testing.T, s *framework.Server, withTLS func(*tls.Config), token string, events ...map[string]any) (int, string) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"events": events})
	if err != nil {
		t.Fatal(err)
	}
	// The server's CA, but not the admin's credentials: the registry has only its token.
	tlsConfig, err := rest.TLSConfigFor(rest.AnonymousClientConfig(s.RESTConfig()))
	if err != nil {
		t.Fatal(err)
	}
	if withTLS != nil {
		withTLS(tlsConfig)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, s.URL+notificationsPath, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/vnd.docker.distribution.events.v2+json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// TestRegistryNotifications: a standard registry's push events become what the integrated
// registry records (a mapping by tag with the stream created, an Image by digest, a manifest
// list with its children), every Image read from the registry with derived metadata; the
// registry's retries record nothing twice; events that can never be recorded are
// acknowledged; only the token is accepted.
func TestRegistryNotifications(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("registry-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := framework.StartServer(t, framework.Options{ExtraArgs: []string{"--registry-notifications-token-file", tokenFile}})
	src := startSourceRegistry(t)
	ctx := testContext(t)
	c := s.ImageClient("application/json")
	const ns = "notify"
	const token = "registry-s3cret"

	// Push by tag: the stream is created, the tag points at the Image read from the registry.
	digest := src.push(ns + "/app:1.0")
	byTag := src.registryEvent("push", ns+"/app", digest, "1.0")
	if code, body := notify(t, s, token, byTag); code != http.StatusOK {
		t.Fatalf("push by tag: %d %s", code, body)
	}
	stream, err := c.ImageV1().ImageStreams(ns).Get(ctx, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantRef := src.host + "/" + ns + "/app@" + digest
	if head := imageutil.LatestTagEvent(stream, "1.0"); head == nil || head.Image != digest || head.DockerImageReference != wantRef {
		t.Fatalf("tag 1.0: %+v", head)
	}
	img, err := c.ImageV1().Images().Get(ctx, digest, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkPushedImage(t, img, wantRef)

	// The registry's retry of the same event, and its pull events: nothing changes.
	pull := src.registryEvent("pull", ns+"/app", digest, "1.0")
	if code, body := notify(t, s, token, byTag, pull); code != http.StatusOK {
		t.Fatalf("retry: %d %s", code, body)
	}
	again, err := c.ImageV1().ImageStreams(ns).Get(ctx, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.ResourceVersion != stream.ResourceVersion || len(again.Status.Tags) != 1 || len(again.Status.Tags[0].Items) != 1 {
		t.Errorf("a repeated event changed the stream: %+v", again.Status.Tags)
	}

	// A manifest list pushed by tag: the list's Image names its children, which exist too.
	list, children := src.pushList(ns+"/multi:latest", "linux/amd64", "linux/arm64")
	if code, body := notify(t, s, token, src.registryEvent("push", ns+"/multi", list, "latest")); code != http.StatusOK {
		t.Fatalf("list: %d %s", code, body)
	}
	multi, err := c.ImageV1().ImageStreams(ns).Get(ctx, "multi", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if head := imageutil.LatestTagEvent(multi, "latest"); head == nil || head.Image != list {
		t.Fatalf("tag latest: %+v", head)
	}
	listImage, err := c.ImageV1().Images().Get(ctx, list, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(listImage.DockerImageManifests) != 2 || listImage.DockerImageManifests[0].Digest != children[0] ||
		listImage.DockerImageManifests[1].Architecture != "arm64" {
		t.Errorf("list image manifests: %+v", listImage.DockerImageManifests)
	}
	for _, child := range children {
		img, err := c.ImageV1().Images().Get(ctx, child, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("child %s: %v", child, err)
		}
		checkPushedImage(t, img, src.host+"/"+ns+"/multi@"+child)
	}

	// Push by digest: the Image only, no stream.
	byDigest := src.push(ns + "/plain:scratch")
	if code, body := notify(t, s, token, src.registryEvent("push", ns+"/plain", byDigest, "")); code != http.StatusOK {
		t.Fatalf("push by digest: %d %s", code, body)
	}
	if img, err := c.ImageV1().Images().Get(ctx, byDigest, metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	} else {
		checkPushedImage(t, img, src.host+"/"+ns+"/plain@"+byDigest)
	}
	if _, err := c.ImageV1().ImageStreams(ns).Get(ctx, "plain", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a push by digest created a stream: %v", err)
	}

	// Events that can never be recorded are acknowledged and record nothing: a repository
	// that is not <namespace>/<name>, a malformed digest, a manifest the registry does not
	// have.
	other := src.push(ns + "/bad:1")
	noNamespace := src.registryEvent("push", ns+"/bad", other, "1")
	noNamespace["target"].(map[string]any)["repository"] = "bad"
	badDigest := src.registryEvent("push", ns+"/bad", other, "1")
	badDigest["target"].(map[string]any)["digest"] = "sha256:not-a-digest"
	gone := src.registryEvent("push", ns+"/bad", other, "1")
	gone["target"].(map[string]any)["digest"] = digestOf(7)
	for name, ev := range map[string]map[string]any{"no namespace": noNamespace, "bad digest": badDigest, "gone": gone} {
		if code, body := notify(t, s, token, ev); code != http.StatusOK || !strings.Contains(body, `"rejected"`) {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}
	if _, err := c.ImageV1().ImageStreams(ns).Get(ctx, "bad", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a rejected event created a stream: %v", err)
	}
	if _, err := c.ImageV1().Images().Get(ctx, other, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a rejected event created an image: %v", err)
	}

	// Only the token: a wrong one, the admin's credentials, or none are 401 and record nothing.
	fresh := src.push(ns + "/denied:1")
	ev := src.registryEvent("push", ns+"/denied", fresh, "1")
	for _, tok := range []string{"wrong", "registry-s3cret2", ""} {
		if code, body := notify(t, s, tok, ev); code != http.StatusUnauthorized {
			t.Errorf("token %q: %d %s", tok, code, body)
		}
	}
	if code, _, _ := rawRequest(t, s, http.MethodPost, notificationsPath, "application/vnd.docker.distribution.events.v2+json", []byte(`{"events":[]}`)); code != http.StatusUnauthorized {
		t.Errorf("admin credentials: %d", code)
	}
	if _, err := c.ImageV1().ImageStreams(ns).Get(ctx, "denied", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a refused notification created a stream: %v", err)
	}

	// Every outcome is counted.
	code, metrics, _ := rawRequestAccept(t, s, "/metrics", "text/plain")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{`outcome="recorded"} 4`, `outcome="ignored"} 1`, `outcome="rejected"} 3`} {
		if !strings.Contains(string(metrics), "openshift_image_apiserver_registry_notification_events_total{"+want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestRegistryNotificationsClientCertificate: with --registry-notifications-client-ca-file
// (and no token), a registry that presents a certificate of that CA with an allowed name is
// accepted: the server asks for one, naming the CA, so that a client picks it. A certificate
// of another CA or with another name, or none, is 401 and records nothing; the endpoint's
// certificates authenticate nobody to the API, whose other clients are unaffected.
func TestRegistryNotificationsClientCertificate(t *testing.T) {
	ca, other := framework.NewTestCA(t, "registry clients"), framework.NewTestCA(t, "other clients")
	s := framework.StartServer(t, framework.Options{ExtraArgs: []string{
		"--registry-notifications-client-ca-file", ca.File, "--registry-notifications-allowed-names", "registry-0,registry-1",
	}})
	src := startSourceRegistry(t)
	c := s.ImageClient("application/json")
	ctx := testContext(t)
	const ns = "notify-cert"
	// offer presents cert only when the server's request names its CA, as Go clients (the
	// registry's among them) choose; force presents it whatever the server asks for.
	offer := func(cert tls.Certificate) func(*tls.Config) {
		return func(c *tls.Config) { c.Certificates = []tls.Certificate{cert} }
	}
	force := func(cert tls.Certificate) func(*tls.Config) {
		return func(c *tls.Config) {
			c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
		}
	}

	digest := src.push(ns + "/app:1.0")
	ev := src.registryEvent("push", ns+"/app", digest, "1.0")
	for name, withTLS := range map[string]func(*tls.Config){
		"no certificate":     nil,
		"another CA":         force(other.ClientCertificate(t, "registry-0")),
		"a name not allowed": force(ca.ClientCertificate(t, "intruder")),
	} {
		if code, body := notifyOver(t, s, withTLS, "", ev); code != http.StatusUnauthorized {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}
	if code, body := notify(t, s, "any-token", ev); code != http.StatusUnauthorized {
		t.Errorf("a token, none configured: %d %s", code, body)
	}
	if _, err := c.ImageV1().ImageStreams(ns).Get(ctx, "app", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a refused notification created the stream: %v", err)
	}

	registry := ca.ClientCertificate(t, "registry-0")
	if code, body := notifyOver(t, s, offer(registry), "", ev); code != http.StatusOK {
		t.Fatalf("the registry's certificate: %d %s", code, body)
	}
	stream, err := c.ImageV1().ImageStreams(ns).Get(ctx, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if head := imageutil.LatestTagEvent(stream, "1.0"); head == nil || head.Image != digest {
		t.Errorf("tag 1.0: %+v", head)
	}

	// The certificate is no API credential.
	tlsConfig, err := rest.TLSConfigFor(rest.AnonymousClientConfig(s.RESTConfig()))
	if err != nil {
		t.Fatal(err)
	}
	force(registry)(tlsConfig)
	api := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	defer api.CloseIdleConnections()
	resp, err := api.Get(s.URL + "/apis/image.openshift.io/v1/namespaces/" + ns + "/imagestreams")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the API with the registry's certificate: %d", resp.StatusCode)
	}
}

// TestRegistryNotificationsOff: without a token file the endpoint is not served.
func TestRegistryNotificationsOff(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	if code, _, _ := rawRequest(t, s, http.MethodPost, notificationsPath, "application/vnd.docker.distribution.events.v2+json", []byte(`{"events":[]}`)); code != http.StatusNotFound {
		t.Errorf("endpoint without a token file: %d", code)
	}
}

// checkPushedImage checks an Image recorded from a push: referenced in the registry, metadata
// and layers derived from the manifest and config read from it.
func checkPushedImage(t *testing.T, img *imagev1.Image, wantRef string) {
	t.Helper()
	if img.DockerImageReference != wantRef {
		t.Errorf("image %s: reference %q, want %q", img.Name, img.DockerImageReference, wantRef)
	}
	if len(img.DockerImageLayers) == 0 || img.DockerImageMetadata.Raw == nil || img.DockerImageManifestMediaType == "" {
		t.Errorf("image %s: no derived metadata: layers %d, metadata %q, media type %q", img.Name, len(img.DockerImageLayers), img.DockerImageMetadata.Raw, img.DockerImageManifestMediaType)
	}
}
