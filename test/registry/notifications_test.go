package registry

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

// TestPushNotifications (D18): a real registry, its notifications pointed at the server over
// verified TLS with the bearer token, records its pushes in the image API by itself: a push
// by tag becomes the tag of a stream created for it, a push by digest an Image only, a
// manifest list its Image and its children's, every Image read back from the registry with
// its metadata and layers.
func TestPushNotifications(t *testing.T) {
	const token = "registry-notification-token"
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := framework.StartServer(t, framework.Options{ExtraArgs: []string{
		"--registry-notifications-token-file", tokenFile,
		"--tls-cert-file", servingCert, "--tls-private-key-file", servingKey,
	}})
	reg := startRegistry(t, registryOptions{notify: notificationEndpoint(s.URL, token)})
	c := s.ImageClient("application/json").ImageV1()
	ctx := testContext(t)
	const ns = "team"

	// Push by tag.
	img := reg.push(ns + "/app:1.0")
	digest := digestOf(t, img)
	wantRef := reg.host + "/" + ns + "/app@" + digest
	eventually(t, "the pushed tag is in the stream", func() bool {
		stream, err := c.ImageStreams(ns).Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			return false
		}
		head := imageutil.LatestTagEvent(stream, "1.0")
		return head != nil && head.Image == digest && head.DockerImageReference == wantRef
	})
	image, err := c.Images().Get(ctx, digest, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, image, wantRef, img)

	// Push by digest: an Image, no stream.
	byDigest := reg.pushByDigest(ns + "/plain")
	eventually(t, "the image pushed by digest exists", func() bool {
		_, err := c.Images().Get(ctx, byDigest, metav1.GetOptions{})
		return err == nil
	})
	if _, err := c.ImageStreams(ns).Get(ctx, "plain", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a push by digest created a stream: %v", err)
	}

	// A manifest list by tag: the tag points at the list, whose Image names its children.
	list, children := reg.pushList(ns+"/multi:latest", "linux/amd64", "linux/arm64")
	eventually(t, "the pushed list is in the stream", func() bool {
		stream, err := c.ImageStreams(ns).Get(ctx, "multi", metav1.GetOptions{})
		if err != nil {
			return false
		}
		head := imageutil.LatestTagEvent(stream, "latest")
		return head != nil && head.Image == list
	})
	listImage, err := c.Images().Get(ctx, list, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(listImage.DockerImageManifests) != 2 || listImage.DockerImageManifests[0].Digest != children[0] ||
		listImage.DockerImageManifests[1].Digest != children[1] || listImage.DockerImageManifests[1].Architecture != "arm64" {
		t.Errorf("list image manifests: %+v", listImage.DockerImageManifests)
	}
	for _, child := range children {
		if _, err := c.Images().Get(ctx, child, metav1.GetOptions{}); err != nil {
			t.Errorf("child %s of the list: %v", child, err)
		}
	}

	// Every event was recorded, none refused: the registry's queue never stalled on us.
	stream, err := c.ImageStreams(ns).Get(ctx, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(stream.Status.Tags) != 1 || len(stream.Status.Tags[0].Items) != 1 {
		t.Errorf("stream app: %+v", stream.Status.Tags)
	}
}

// TestNotificationsSurviveServerKill: the registry keeps the events the server could not
// take in its queue and sends them again: pushes that go on while the server is killed
// (SIGKILL, in the middle of its work) and while it is down all land in their stream once it
// is back on the same data directory and port.
func TestNotificationsSurviveServerKill(t *testing.T) {
	const token = "registry-notification-token"
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := framework.StartServer(t, framework.Options{ExtraArgs: []string{
		"--registry-notifications-token-file", tokenFile,
		"--tls-cert-file", servingCert, "--tls-private-key-file", servingKey,
	}})
	endpoint := notificationEndpoint(s.URL, token)
	// Retry a down server often: the test waits for the backlog to drain.
	endpoint.Threshold, endpoint.Backoff = 3, 50*time.Millisecond
	reg := startRegistry(t, registryOptions{notify: endpoint})
	const ns, n = "team", 24
	recorded := func() (map[string]string, error) {
		stream, err := s.ImageClient("application/json").ImageV1().ImageStreams(ns).Get(testContext(t), "burst", metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		heads := map[string]string{}
		for _, st := range stream.Status.Tags {
			if len(st.Items) > 0 {
				heads[st.Tag] = st.Items[0].Image
			}
		}
		return heads, nil
	}

	// Pushes go on in the background; the server is killed once some have landed, while the
	// others are being sent or wait in the registry's queue.
	pushed := make(map[string]string, n)
	var pushErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			tag := fmt.Sprintf("t%02d", i)
			img, err := reg.tryPush(ns + "/burst:" + tag)
			if err != nil {
				pushErr = err
				return
			}
			d, err := img.Digest()
			if err != nil {
				pushErr = err
				return
			}
			pushed[tag] = d.String()
		}
	}()
	var atKill int
	eventually(t, "the first pushes are recorded", func() bool {
		heads, err := recorded()
		atKill = len(heads)
		return err == nil && atKill >= 3
	})
	s.Kill()
	<-done
	t.Logf("killed with %d of %d pushes recorded", atKill, n)
	if pushErr != nil {
		t.Fatal(pushErr)
	}
	// Down: the events wait in the registry, retried.
	s.Start()
	eventually(t, "every push is recorded after the restart", func() bool {
		heads, err := recorded()
		return err == nil && len(heads) == n
	})
	heads, err := recorded()
	if err != nil {
		t.Fatal(err)
	}
	for tag, d := range pushed {
		if heads[tag] != d {
			t.Errorf("tag %s: head %q, pushed %s", tag, heads[tag], d)
		}
	}
}

// checkImage checks that an Image recorded from the registry carries what only the pushed
// manifest and config could give: the manifest's media type, its layers in order, and metadata
// whose Id is the config's digest and whose Size counts the config and every layer.
func checkImage(t *testing.T, image *imagev1.Image, wantRef string, pushed v1.Image) {
	t.Helper()
	if image.DockerImageReference != wantRef {
		t.Errorf("image %s: reference %q, want %q", image.Name, image.DockerImageReference, wantRef)
	}
	m, err := pushed.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if image.DockerImageManifestMediaType != string(m.MediaType) {
		t.Errorf("image %s: manifest media type %q, want %q", image.Name, image.DockerImageManifestMediaType, m.MediaType)
	}
	wantSize := m.Config.Size
	if len(image.DockerImageLayers) != len(m.Layers) {
		t.Fatalf("image %s: %d layers, want %d", image.Name, len(image.DockerImageLayers), len(m.Layers))
	}
	for i, l := range m.Layers {
		got := image.DockerImageLayers[i]
		if got.Name != l.Digest.String() || got.LayerSize != l.Size || got.MediaType != string(l.MediaType) {
			t.Errorf("image %s: layer %d is %+v, want %s (%d bytes, %s)", image.Name, i, got, l.Digest, l.Size, l.MediaType)
		}
		wantSize += l.Size
	}
	var meta struct {
		ID   string `json:"Id"`
		Size int64  `json:"Size"`
	}
	if err := json.Unmarshal(image.DockerImageMetadata.Raw, &meta); err != nil {
		t.Fatalf("image %s: metadata %q: %v", image.Name, image.DockerImageMetadata.Raw, err)
	}
	if meta.ID != m.Config.Digest.String() || meta.Size != wantSize {
		t.Errorf("image %s: metadata Id %q Size %d, want %s and %d", image.Name, meta.ID, meta.Size, m.Config.Digest, wantSize)
	}
}
