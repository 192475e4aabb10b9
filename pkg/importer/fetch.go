package importer

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
)

// now is the creation time of manifest-list Images; tests replace it.
var now = time.Now

// fetchKey identifies one fetch of a request: entries that ask for the same thing share it.
type fetchKey struct {
	repository           string
	insecure             bool
	tag, digest          string
	preferArch, preferOS string
	mode                 imagev1.ImportModeType
}

// fetched is the outcome of one fetch. Images carry no dockerImageReference yet: each entry
// names them after its own spelling of the repository.
type fetched struct {
	image *imagev1.Image
	// manifests are the children of a manifest list imported with PreserveOriginal.
	manifests []imagev1.Image
	// status is the failure when image is nil.
	status metav1.Status
}

// fetch imports one tag or digest of src.
func (s *session) fetch(ctx context.Context, src source, key fetchKey) fetched {
	var ref name.Reference = src.repo.Tag(key.tag)
	if key.digest != "" {
		ref = src.repo.Digest(key.digest)
	}
	f := failure{
		ref:         src.pullSpec(key.tag, key.digest),
		repository:  src.typed.RepositoryName(),
		insecure:    src.insecure,
		credentials: s.hasCredentials(src.repo),
	}
	image, manifests, err := s.fetchImage(ctx, src, ref, key)
	if err != nil {
		return fetched{status: f.errorStatus(err)}
	}
	return fetched{image: image, manifests: manifests}
}

func (s *session) fetchImage(ctx context.Context, src source, ref name.Reference, key fetchKey) (*imagev1.Image, []imagev1.Image, error) {
	puller := s.puller(src.insecure)
	desc, err := puller.Get(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	if err := checkDigest(desc, key.digest); err != nil {
		return nil, nil, err
	}
	if !desc.MediaType.IsIndex() {
		image, err := imageFromDescriptor(desc)
		return image, nil, err
	}

	index, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return nil, nil, fmt.Errorf("cannot parse the manifest list: %w", err)
	}
	if len(index.Manifests) == 0 {
		return nil, nil, fmt.Errorf("no manifests in manifest list")
	}
	if key.mode != imagev1.ImportModePreserveOriginal {
		// Legacy: the list is replaced by the image of one platform.
		child := s.imp.selectManifest(index.Manifests, key.preferArch, key.preferOS)
		image, err := s.fetchChild(ctx, puller, src, child.Digest)
		return image, nil, err
	}

	list := listImage(desc, index)
	children := make([]imagev1.Image, 0, len(index.Manifests))
	for _, m := range index.Manifests {
		child, err := s.fetchChild(ctx, puller, src, m.Digest)
		if err != nil {
			return nil, nil, err
		}
		child.DockerImageReference = src.imageReference(child.Name)
		children = append(children, *child)
	}
	return list, children, nil
}

// fetchChild imports the image a manifest list points at; a child that is itself a list is
// not supported, as in OpenShift.
func (s *session) fetchChild(ctx context.Context, puller *remote.Puller, src source, digest v1.Hash) (*imagev1.Image, error) {
	desc, err := puller.Get(ctx, src.repo.Digest(digest.String()))
	if err != nil {
		return nil, fmt.Errorf("manifest %s of the manifest list: %w", digest, err)
	}
	if err := checkDigest(desc, digest.String()); err != nil {
		return nil, err
	}
	return imageFromDescriptor(desc)
}

// checkDigest verifies that a manifest fetched by digest hashes to that digest. The registry
// client checks it too; checking here keeps the guarantee whatever the client version does.
func checkDigest(desc *remote.Descriptor, want string) error {
	if want == "" || isSchema1(desc.MediaType) {
		// A signed schema 1 manifest is named by the digest of its unsigned form.
		return nil
	}
	got, _, err := v1.SHA256(bytes.NewReader(desc.Manifest))
	if err != nil {
		return err
	}
	wantHash, err := v1.NewHash(want)
	if err != nil {
		return err
	}
	if wantHash.Algorithm == got.Algorithm && got != wantHash {
		return integrityError{fmt.Errorf("the manifest retrieved (media type: %s) with digest %s does not match the digest calculated from the content %s", desc.MediaType, want, got)}
	}
	return nil
}

func isSchema1(mt types.MediaType) bool {
	return mt == types.DockerManifestSchema1 || mt == types.DockerManifestSchema1Signed
}

// imageFromDescriptor builds the Image of an image manifest (not a list): named by its digest,
// with manifest, config and media type, and the metadata and layers derived from them exactly
// as for a pushed image.
func imageFromDescriptor(desc *remote.Descriptor) (*imagev1.Image, error) {
	var config []byte
	switch desc.MediaType {
	case types.DockerManifestSchema2, types.OCIManifestSchema1:
		img, err := desc.Image()
		if err != nil {
			return nil, err
		}
		if config, err = img.RawConfigFile(); err != nil {
			return nil, fmt.Errorf("image config: %w", err)
		}
	case types.DockerManifestSchema1, types.DockerManifestSchema1Signed:
		// The metadata is in the manifest's history.
	default:
		return nil, fmt.Errorf("unsupported image manifest type %q", desc.MediaType)
	}
	image := &imagev1.Image{
		ObjectMeta:                   metav1.ObjectMeta{Name: desc.Digest.String()},
		DockerImageManifest:          string(desc.Manifest),
		DockerImageConfig:            string(config),
		DockerImageManifestMediaType: string(desc.MediaType),
		DockerImageMetadataVersion:   imageutil.MetadataVersion10,
	}
	if err := imageutil.ImageWithMetadata(image); err != nil {
		return nil, err
	}
	return image, nil
}

// listImage is the Image of a manifest list imported with PreserveOriginal: its children's
// descriptors, and no manifest body.
func listImage(desc *remote.Descriptor, index *v1.IndexManifest) *imagev1.Image {
	image := &imagev1.Image{
		ObjectMeta:                   metav1.ObjectMeta{Name: desc.Digest.String()},
		DockerImageManifestMediaType: string(desc.MediaType),
	}
	for _, m := range index.Manifests {
		im := imagev1.ImageManifest{
			Digest:       m.Digest.String(),
			MediaType:    string(m.MediaType),
			ManifestSize: m.Size,
		}
		if m.Platform != nil {
			im.Architecture, im.OS, im.Variant = m.Platform.Architecture, m.Platform.OS, m.Platform.Variant
		}
		image.DockerImageManifests = append(image.DockerImageManifests, im)
	}
	// Encoding a fixed struct cannot fail.
	_ = imageutil.SetDockerImageMetadata(image, &docker10.DockerImage{ID: image.Name, Created: metav1.NewTime(now())})
	return image
}

// selectManifest picks the platform a Legacy import keeps: the tag's preferred architecture
// and OS (each defaulting to the server's), then linux/amd64, then the first entry.
func (imp *Importer) selectManifest(manifests []v1.Descriptor, preferArch, preferOS string) v1.Descriptor {
	if preferArch == "" {
		preferArch = imp.opts.Architecture
	}
	if preferOS == "" {
		preferOS = imp.opts.OS
	}
	for _, want := range [][2]string{{preferOS, preferArch}, {"linux", "amd64"}} {
		for _, m := range manifests {
			if m.Platform != nil && m.Platform.OS == want[0] && m.Platform.Architecture == want[1] {
				return m
			}
		}
	}
	return manifests[0]
}
