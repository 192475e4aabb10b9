package server

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	cliflag "k8s.io/component-base/cli/flag"

	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
	"github.com/image-apiserver/image-apiserver/pkg/importer"
	"github.com/image-apiserver/image-apiserver/pkg/notifications"
)

// NotificationOptions are the flags of the registry notification endpoint.
type NotificationOptions struct {
	// TokenFile holds the bearer token the registry sends.
	TokenFile string
	// ClientCAFile holds the CA bundle of the client certificates the endpoint accepts;
	// AllowedNames, when set, are the common names it accepts. Without a token file and a
	// client CA the endpoint is off.
	ClientCAFile string
	AllowedNames []string
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
	fs.StringVar(&o.TokenFile, "registry-notifications-token-file", o.TokenFile, "File holding the bearer token a CNCF distribution registry sends (its notification endpoint's Authorization header) to "+notifications.Path+". With it (or --registry-notifications-client-ca-file), the server records the registry's manifest pushes: by tag as ImageStreamMappings (the stream created when missing), by digest as Images. Without either the endpoint is not served. The token is read at start.")
	fs.StringVar(&o.ClientCAFile, "registry-notifications-client-ca-file", o.ClientCAFile, "PEM bundle of the certificate authorities whose client certificates (for client authentication) "+notifications.Path+" accepts instead of the token: from a registry, or a TLS proxy beside it, that presents one. The server then asks every TLS client for a certificate without requiring one. A certificate of these CAs authenticates nobody to the API. The file is read again when it changes.")
	fs.StringSliceVar(&o.AllowedNames, "registry-notifications-allowed-names", o.AllowedNames, "Common names of the client certificates "+notifications.Path+" accepts; empty accepts every client certificate the CAs of --registry-notifications-client-ca-file signed.")
	fs.StringVar(&o.RegistryHost, "registry-notifications-registry-host", o.RegistryHost, "Registry host[:port] that pushed images are referenced by (dockerImageReference <host>/<namespace>/<name>@<digest>). Default: the host the pushing client named (its Host header, as the registry reports it); set it when clients may reach the registry under names others cannot pull from. The manifest is always read from the URL the registry announces in its event.")
}

// Validate checks the flags.
func (o *NotificationOptions) Validate() []error {
	errs := validateRegistryHostname("--registry-notifications-registry-host", o.RegistryHost)
	if o.RegistryHost != "" && o.TokenFile == "" && o.ClientCAFile == "" {
		errs = append(errs, errors.New("--registry-notifications-registry-host needs --registry-notifications-token-file or --registry-notifications-client-ca-file"))
	}
	if len(o.AllowedNames) > 0 && o.ClientCAFile == "" {
		errs = append(errs, errors.New("--registry-notifications-allowed-names needs --registry-notifications-client-ca-file"))
	}
	return errs
}

// config is the endpoint's configuration, nil when it is off. keychain holds the credentials
// to read the registry (--import-docker-config's).
func (o *NotificationOptions) config(keychain authn.Keychain) (*apiserver.NotificationsConfig, error) {
	if o.TokenFile == "" && o.ClientCAFile == "" {
		return nil, nil
	}
	cfg := &apiserver.NotificationsConfig{
		RegistryHost: o.RegistryHost,
		Keychain:     keychain,
		Fetcher:      importer.New(importer.Options{RegistryQPS: notificationRegistryQPS, RegistryBurst: notificationRegistryQPS}),
		AllowedNames: o.AllowedNames,
	}
	if o.TokenFile != "" {
		data, err := os.ReadFile(o.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("--registry-notifications-token-file: %w", err)
		}
		cfg.Token = bytes.TrimSpace(data)
		if len(cfg.Token) == 0 {
			return nil, fmt.Errorf("--registry-notifications-token-file: %s is empty", o.TokenFile)
		}
	}
	if o.ClientCAFile != "" {
		// Read (and checked) now; watched for changes once the server runs.
		ca, err := dynamiccertificates.NewDynamicCAContentFromFile("registry-notifications-client-ca", o.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("--registry-notifications-client-ca-file: %w", err)
		}
		cfg.ClientCA = ca
	}
	return cfg, nil
}
