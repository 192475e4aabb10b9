package server

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	cliflag "k8s.io/component-base/cli/flag"

	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
	"github.com/image-apiserver/image-apiserver/pkg/importer"
	"github.com/image-apiserver/image-apiserver/pkg/notifications"
)

// NotificationOptions are the flags of the registry notification endpoint.
type NotificationOptions struct {
	// TokenFile holds the bearer token the registry sends; empty turns the endpoint off.
	TokenFile string
	// RegistryHost names the registry in the dockerImageReference of pushed images.
	RegistryHost string
}

// notificationRegistryQPS is the manifest rate the endpoint reads from one registry. The
// registry pushes its events to us one at a time; the import default (a few per second, to
// spare public registries) would make a busy registry's queue grow.
const notificationRegistryQPS = 100

// AddFlags registers the flags in the image-apiserver section.
func (o *NotificationOptions) AddFlags(fss *cliflag.NamedFlagSets) {
	fs := fss.FlagSet("image-apiserver")
	fs.StringVar(&o.TokenFile, "registry-notifications-token-file", o.TokenFile, "File holding the bearer token a CNCF distribution registry sends (its notification endpoint's Authorization header) to "+notifications.Path+". With it, the server records the registry's manifest pushes: by tag as ImageStreamMappings (the stream created when missing), by digest as Images. Without it the endpoint is not served. The token is read at start.")
	fs.StringVar(&o.RegistryHost, "registry-notifications-registry-host", o.RegistryHost, "Registry host[:port] that pushed images are referenced by (dockerImageReference <host>/<namespace>/<name>@<digest>). Default: the host the pushing client named (its Host header, as the registry reports it); set it when clients may reach the registry under names others cannot pull from. The manifest is always read from the URL the registry announces in its event.")
}

// Validate checks the flags.
func (o *NotificationOptions) Validate() []error {
	errs := validateRegistryHostname("--registry-notifications-registry-host", o.RegistryHost)
	if o.RegistryHost != "" && o.TokenFile == "" {
		errs = append(errs, errors.New("--registry-notifications-registry-host needs --registry-notifications-token-file"))
	}
	return errs
}

// config is the endpoint's configuration, nil when it is off. keychain holds the credentials
// to read the registry (--import-docker-config's).
func (o *NotificationOptions) config(keychain authn.Keychain) (*apiserver.NotificationsConfig, error) {
	if o.TokenFile == "" {
		return nil, nil
	}
	data, err := os.ReadFile(o.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("--registry-notifications-token-file: %w", err)
	}
	token := bytes.TrimSpace(data)
	if len(token) == 0 {
		return nil, fmt.Errorf("--registry-notifications-token-file: %s is empty", o.TokenFile)
	}
	return &apiserver.NotificationsConfig{
		Token:        token,
		RegistryHost: o.RegistryHost,
		Keychain:     keychain,
		Fetcher:      importer.New(importer.Options{RegistryQPS: notificationRegistryQPS, RegistryBurst: notificationRegistryQPS}),
	}, nil
}
