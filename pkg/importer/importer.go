package importer

import (
	"context"
	"net/http"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	imagev1 "github.com/openshift/api/image/v1"
	"golang.org/x/time/rate"
)

// userAgent is how registries see the importer.
const userAgent = "image-apiserver-importer"

// Importer fetches the images of ImageStreamImports. It is meant to live as long as the server:
// its per-registry rate limits are shared by all requests. It is safe for concurrent use.
type Importer struct {
	opts   Options
	limits *hostLimiters
	// secure and insecure are the innermost transports of images without and with
	// importPolicy.insecure.
	secure, insecure http.RoundTripper
}

// New returns an Importer configured by opts (see Options for the defaults).
func New(opts Options) *Importer {
	opts = opts.withDefaults()
	limits := &hostLimiters{
		hosts: map[string]limiter{},
		newLimiter: func() limiter {
			return rate.NewLimiter(rate.Limit(opts.RegistryQPS), opts.RegistryBurst)
		},
	}
	imp := &Importer{opts: opts, limits: limits}
	imp.secure, imp.insecure = newTransports(opts.Transport, limits)
	return imp
}

// Import fetches what isi.spec asks for and returns the status an ImageStreamImport answers
// with, except status.import, which is the caller's (the stream it writes):
//
//   - status.images has one entry per spec.images entry, in the same order; each has a Status
//     (Success, or a failure with code, reason, message and details), the tag it was imported
//     from (tagged entries), the Image, and for manifest lists imported with PreserveOriginal
//     the Image of every child in manifests;
//   - status.repository is set when spec.repository is: the imported tags in priority order,
//     the tags beyond the limit in additionalTags, and an overall Status.
//
// Images are complete (manifest, config, derived metadata and layers; dockerImageReference
// `<repository as typed>@<digest>`): the caller strips what it does not store. A manifest list
// imported with PreserveOriginal is an Image with dockerImageManifests and no manifest body.
//
// stream is the existing target stream, or nil: the prefer-arch and prefer-os annotations of
// its spec tags steer Legacy imports of manifest lists. keychain gives the credentials of each
// registry (nil means anonymous). Entries refused with a "username or password" 401 are tried
// once more without credentials, for stale credentials shadowing a public image; when that
// fails too, they keep the first answer, which says what was wrong with the credentials.
//
// Import never fails as a whole: cancelling ctx makes the remaining entries fail.
func (imp *Importer) Import(ctx context.Context, isi *imagev1.ImageStreamImport, stream *imagev1.ImageStream, keychain authn.Keychain) imagev1.ImageStreamImportStatus {
	if keychain == nil {
		keychain = anonymous{}
	}
	status := imp.importOnce(ctx, &isi.Spec, stream, keychain)
	if _, ok := keychain.(anonymous); !ok {
		imp.retryAnonymously(ctx, &isi.Spec, stream, &status)
	}
	return status
}

// session is the registry access of one import: the credentials, and a client per transport
// that authenticates once per repository.
type session struct {
	imp      *Importer
	keychain authn.Keychain
	pullers  [2]*remote.Puller

	mu          sync.Mutex
	credentials map[string]bool
}

func (imp *Importer) newSession(keychain authn.Keychain) *session {
	s := &session{imp: imp, keychain: keychain, credentials: map[string]bool{}}
	backoff := remote.Backoff{Duration: imp.opts.RetryWait, Factor: 3, Jitter: 0.1, Steps: imp.opts.Retries + 1}
	for i, t := range []http.RoundTripper{imp.secure, imp.insecure} {
		// NewPuller fails only on conflicting options, which these are not.
		s.pullers[i], _ = remote.NewPuller(
			remote.WithTransport(t),
			remote.WithAuthFromKeychain(keychain),
			remote.WithUserAgent(userAgent),
			remote.WithRetryBackoff(backoff),
			remote.WithRetryStatusCodes(http.StatusTooManyRequests, http.StatusInternalServerError,
				http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout),
		)
	}
	return s
}

func (s *session) puller(insecure bool) *remote.Puller {
	if insecure {
		return s.pullers[1]
	}
	return s.pullers[0]
}

// hasCredentials reports whether the keychain has credentials for repo: a 401 then means
// they are wrong rather than missing.
func (s *session) hasCredentials(repo name.Repository) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if has, ok := s.credentials[repo.String()]; ok {
		return has
	}
	has := false
	if auth, err := s.keychain.Resolve(repo); err == nil && auth != authn.Anonymous {
		cfg, err := auth.Authorization()
		has = err == nil && cfg != nil && *cfg != (authn.AuthConfig{})
	}
	s.credentials[repo.String()] = has
	return has
}

// anonymous is the keychain of the anonymous retry.
type anonymous struct{}

func (anonymous) Resolve(authn.Resource) (authn.Authenticator, error) { return authn.Anonymous, nil }
