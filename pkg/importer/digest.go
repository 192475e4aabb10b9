package importer

import (
	"context"

	"github.com/google/go-containerregistry/pkg/authn"
	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// FetchDigest fetches the manifest digest of repository (`host[:port]/path`, no tag or digest)
// and builds what a push of it records: the Image of an image manifest, or for a manifest list
// or OCI index the list's Image (dockerImageManifests, no manifest body) and the Image of every
// child, as an import with PreserveOriginal does. Every Image has its manifest, config and
// derived metadata; dockerImageReference is `<repository>@<digest>`.
//
// insecure allows plain HTTP and unverified TLS. The allow-list of imports does not apply: the
// caller decides which registries it trusts. keychain nil is anonymous.
//
// Errors are API statuses with the codes of import failures: 404 when the registry does not
// have the manifest, 401 when it refused the credentials, 500 otherwise (unreachable
// registry, unsupported manifest, content that does not match its digest).
func (imp *Importer) FetchDigest(ctx context.Context, repository, digest string, insecure bool, keychain authn.Keychain) (*imagev1.Image, []imagev1.Image, error) {
	if keychain == nil {
		keychain = anonymous{}
	}
	pullSpec := repository + "@" + digest
	src, err := parseSource(pullSpec, insecure)
	if err != nil {
		return nil, nil, &apierrors.StatusError{ErrStatus: invalidStatus(pullSpec, err)}
	}
	s := imp.newSession(keychain)
	key := fetchKey{repository: repository, insecure: insecure, digest: digest, mode: imagev1.ImportModePreserveOriginal}
	f := s.fetch(ctx, src, key)
	if f.image == nil {
		return nil, nil, &apierrors.StatusError{ErrStatus: f.status}
	}
	f.image.DockerImageReference = src.imageReference(f.image.Name)
	return f.image, f.manifests, nil
}
