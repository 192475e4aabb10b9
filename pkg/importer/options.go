package importer

import (
	"net/http"
	"runtime"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
)

// Defaults of Options. The rate and retries are OpenShift's per-request values; here the bucket
// is per registry host and shared by all requests, so that many concurrent imports cannot
// multiply the load one server puts on a registry.
const (
	DefaultMaxTagsPerRepository = 50
	DefaultRegistryQPS          = 2
	DefaultRegistryBurst        = 3
	DefaultRetries              = 2
	DefaultRetryWait            = 500 * time.Millisecond
	DefaultParallelism          = 4
)

// AllowedRegistriesFlag is the server flag that sets Options.AllowedRegistries; refusals name it
// so that an administrator knows what to change.
const AllowedRegistriesFlag = "--allowed-registries-for-import"

// Options configure an Importer. The zero value of a field means its default.
type Options struct {
	// MaxTagsPerRepository is how many tags a repository import fetches, in priority order; the
	// others are reported in additionalTags. -1 means unlimited; 0 means the default (50).
	MaxTagsPerRepository int
	// DefaultImportMode applies to entries whose importPolicy.importMode is empty (Legacy).
	DefaultImportMode imagev1.ImportModeType
	// OS and Architecture are the server's platform, which Legacy imports of a manifest list
	// prefer after the tag's prefer-os/prefer-arch annotations (runtime.GOOS/GOARCH).
	OS, Architecture string
	// AllowedRegistries, when not empty, are the only registries images may be imported from:
	// "host", "host:port" or "*.domain[:port]". A pattern without a port matches the host on
	// the default port (443, or 80 for insecure imports) and without one.
	AllowedRegistries []string
	// RegistryQPS and RegistryBurst size the token bucket of each registry host.
	RegistryQPS   float64
	RegistryBurst int
	// Retries is how often a request answered 429 or 5xx, or failed by a temporary network
	// error, is repeated (2); -1 means never. RetryWait is the first wait, tripled each time.
	Retries   int
	RetryWait time.Duration
	// Parallelism bounds the manifests one request fetches at the same time (4).
	Parallelism int
	// Transport is the base of every registry connection (http.DefaultTransport's settings).
	// Insecure imports use a clone that skips TLS verification. Tests set it to reach their
	// registries.
	Transport *http.Transport
}

// withDefaults returns o with every unset field given its default.
func (o Options) withDefaults() Options {
	if o.MaxTagsPerRepository == 0 {
		o.MaxTagsPerRepository = DefaultMaxTagsPerRepository
	}
	if o.DefaultImportMode == "" {
		o.DefaultImportMode = imagev1.ImportModeLegacy
	}
	if o.OS == "" {
		o.OS = runtime.GOOS
	}
	if o.Architecture == "" {
		o.Architecture = runtime.GOARCH
	}
	if o.RegistryQPS == 0 {
		o.RegistryQPS = DefaultRegistryQPS
	}
	if o.RegistryBurst == 0 {
		o.RegistryBurst = DefaultRegistryBurst
	}
	switch {
	case o.Retries == 0:
		o.Retries = DefaultRetries
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.RetryWait == 0 {
		o.RetryWait = DefaultRetryWait
	}
	if o.Parallelism <= 0 {
		o.Parallelism = DefaultParallelism
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	return o
}
