package integration

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

// documentationImage is the image of examples/mapping.yaml, named by its digest.
func documentationImage(t *testing.T) *imagev1.Image {
	t.Helper()
	data, err := os.ReadFile("../../examples/mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ism := &imagev1.ImageStreamMapping{}
	if err := yaml.Unmarshal(data, ism); err != nil {
		t.Fatal(err)
	}
	img := ism.Image.DeepCopy()
	img.Name = testDigest
	return img
}

func decodeMetadata(t *testing.T, img *imagev1.Image) *docker10.DockerImage {
	t.Helper()
	meta := &docker10.DockerImage{}
	if err := json.Unmarshal(img.DockerImageMetadata.Raw, meta); err != nil {
		t.Fatalf("decoding dockerImageMetadata %q: %v", img.DockerImageMetadata.Raw, err)
	}
	return meta
}

// TestImageMetadata stores images with 1.0 and pre012 metadata and one derived from a schema2
// manifest and config, in JSON and protobuf.
func TestImageMetadata(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	forEachContentType(t, func(t *testing.T, ct string) {
		ctx := testContext(t)
		images := s.ImageClient(ct).ImageV1().Images()
		t.Cleanup(func() { _ = images.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}) })

		// 1.0, the documentation's image: everything kept, apiVersion made canonical.
		created, err := images.Create(ctx, documentationImage(t), metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		got, err := images.Get(ctx, testDigest, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		meta := decodeMetadata(t, got)
		if meta.APIVersion != "image.openshift.io/1.0" || meta.Config == nil || fmt.Sprint(meta.Config.Cmd) != "[/usr/libexec/s2i/run]" ||
			fmt.Sprint(meta.Config.Entrypoint) != "[container-entrypoint]" || len(meta.Config.Env) != 13 ||
			meta.Config.Labels["io.openshift.build.commit.author"] == "" || meta.Size != 441976279 || meta.Architecture != "amd64" {
			t.Errorf("metadata not kept: %s", got.DockerImageMetadata.Raw)
		}
		if len(got.DockerImageLayers) != 7 || got.DockerImageMetadataVersion != "1.0" {
			t.Errorf("layers %d, version %q; want 7 and 1.0", len(got.DockerImageLayers), got.DockerImageMetadataVersion)
		}

		// An update silently keeps the stored metadata and layers; labels may change.
		got.Labels = map[string]string{"checked": "yes"}
		got.DockerImageLayers = nil
		got.DockerImageMetadata = runtime.RawExtension{Raw: []byte(`{"kind":"DockerImage","apiVersion":"image.openshift.io/1.0","Id":"tampered"}`)}
		updated, err := images.Update(ctx, got, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		if updated.Labels["checked"] != "yes" || len(updated.DockerImageLayers) != 7 || decodeMetadata(t, updated).ID == "tampered" {
			t.Errorf("update: labels %v, %d layers, metadata %s", updated.Labels, len(updated.DockerImageLayers), updated.DockerImageMetadata.Raw)
		}
		if updated.UID != created.UID {
			t.Error("update changed the uid")
		}

		// pre012 metadata stays pre012, with its snake_case keys.
		pre := newImage(digestOf(12))
		pre.DockerImageMetadataVersion = "pre012"
		pre.DockerImageMetadata.Raw = []byte(`{"kind":"DockerImage","apiVersion":"pre012","id":"abc","docker_version":"0.11","config":{"Cmd":["run"]}}`)
		gotPre, err := images.Create(ctx, pre, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create pre012: %v", err)
		}
		if raw := string(gotPre.DockerImageMetadata.Raw); gotPre.DockerImageMetadataVersion != "pre012" ||
			!strings.Contains(raw, `"docker_version":"0.11"`) || !strings.Contains(raw, `"apiVersion":"image.openshift.io/pre012"`) {
			t.Errorf("pre012 metadata: %s (version %q)", raw, gotPre.DockerImageMetadataVersion)
		}

		// An unknown metadata version is a 400 naming the field.
		bad := newImage(digestOf(13))
		bad.DockerImageMetadataVersion = "2.0"
		bad.DockerImageMetadata.Raw = []byte(`{"Id":"x"}`)
		if _, err := images.Create(ctx, bad, metav1.CreateOptions{}); !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "dockerImageMetadata") {
			t.Errorf("unknown metadata version: %v, want 400 naming dockerImageMetadata", err)
		}

		// D5: image names are digests.
		notDigest := newImage(testDigest)
		notDigest.Name = "not-a-digest"
		_, err = images.Create(ctx, notDigest, metav1.CreateOptions{})
		if se := statusError(t, err); se.ErrStatus.Code != 422 || fmt.Sprint(causeFields(se)) != "[metadata.name]" {
			t.Errorf("D5: %v (causes %v)", err, causeFields(se))
		}
	})
}

// pushedImage builds the Image the integrated registry sends after a schema2 push: manifest and
// config, no metadata, manifestBlobStored.
// salt makes the image distinct.
func pushedImage(t *testing.T, salt string) *imagev1.Image {
	t.Helper()
	config := []byte(`{"architecture":"arm64","os":"linux","author":"` + salt + `","created":"2024-05-06T07:08:09Z","config":{"Cmd":["/bin/app"],"Env":["A=1"],"Labels":{"l":"v"}},"rootfs":{"type":"layers","diff_ids":[]}}`)
	configDigest := fmt.Sprintf("sha256:%x", sha256.Sum256(config))
	manifest := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",`+
		`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":%d,"digest":"%s"},`+
		`"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":100,"digest":"%s"},`+
		`{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":200,"digest":"%s"}]}`,
		len(config), configDigest, digestOf(101), digestOf(102)))
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256(manifest))
	return &imagev1.Image{
		ObjectMeta: metav1.ObjectMeta{Name: digest, Annotations: map[string]string{
			"image.openshift.io/manifestBlobStored": "true", "openshift.io/image.managed": "true",
		}},
		DockerImageReference:         "registry.test:5000/push/app@" + digest,
		DockerImageManifest:          string(manifest),
		DockerImageManifestMediaType: "application/vnd.docker.distribution.manifest.v2+json",
		DockerImageConfig:            string(config),
	}
}

// TestImageDerivedFromManifest: the server derives metadata, layers and size from a pushed
// schema2 manifest and config, then drops both (manifestBlobStored).
func TestImageDerivedFromManifest(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	ctx := testContext(t)
	in := pushedImage(t, "derived")
	got, err := s.ImageClient(framework.ContentTypes[1]).ImageV1().Images().Create(ctx, in, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	meta := decodeMetadata(t, got)
	if meta.Architecture != "arm64" || meta.Config == nil || fmt.Sprint(meta.Config.Cmd) != "[/bin/app]" || meta.Size != int64(len(in.DockerImageConfig))+300 {
		t.Errorf("derived metadata %s", got.DockerImageMetadata.Raw)
	}
	if len(got.DockerImageLayers) != 2 || got.DockerImageLayers[0].Name != digestOf(101) || got.DockerImageLayers[0].MediaType == "" {
		t.Errorf("derived layers %+v", got.DockerImageLayers)
	}
	if got.DockerImageManifest != "" || got.DockerImageConfig != "" {
		t.Error("manifest and config kept despite manifestBlobStored")
	}
}
