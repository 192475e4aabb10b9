package importer

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func TestFetchDigest(t *testing.T) {
	reg := startRegistry(t, true, nil)
	imp := New(fastOptions(t))
	ctx := context.Background()
	repo := reg.host + "/team/app"

	img := reg.pushImage("team/app:1.0")
	digest := digestOf(t, img)
	got, children, err := imp.FetchDigest(ctx, repo, digest, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != digest || got.DockerImageReference != repo+"@"+digest || got.DockerImageManifest == "" ||
		got.DockerImageConfig == "" || len(got.DockerImageLayers) != 2 || got.DockerImageMetadata.Raw == nil || children != nil {
		t.Errorf("image %s ref %s layers %d children %d", got.Name, got.DockerImageReference, len(got.DockerImageLayers), len(children))
	}

	idx := reg.pushIndex("team/app:multi", types.OCIImageIndex, "linux/amd64", "linux/s390x")
	list := digestOf(t, idx)
	got, children, err = imp.FetchDigest(ctx, repo, list, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != list || len(got.DockerImageManifests) != 2 || len(children) != 2 ||
		children[1].Name != got.DockerImageManifests[1].Digest || children[1].DockerImageReference != repo+"@"+children[1].Name || len(children[1].DockerImageLayers) != 1 {
		t.Errorf("list %+v children %d", got.DockerImageManifests, len(children))
	}

	// A manifest the registry does not have is 404; a plain-HTTP registry is refused unless
	// insecure.
	missing := "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	if _, _, err := imp.FetchDigest(ctx, repo, missing, false, nil); !apierrors.IsNotFound(err) {
		t.Errorf("missing manifest: %v", err)
	}
	plain := startRegistry(t, false, nil)
	pushed := digestOf(t, plain.pushImage("team/app:1.0"))
	if _, _, err := imp.FetchDigest(ctx, plain.host+"/team/app", pushed, false, nil); err == nil {
		t.Error("a plain-HTTP registry was read without insecure")
	}
	if _, _, err := imp.FetchDigest(ctx, plain.host+"/team/app", pushed, true, nil); err != nil {
		t.Errorf("insecure: %v", err)
	}
}
