package apiserver

import (
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"

	"github.com/image-apiserver/image-apiserver/pkg/notifications"
)

// NotificationsConfig turns on the endpoint that takes a standard registry's push
// notifications (--registry-notifications-token-file, --registry-notifications-client-ca-file).
type NotificationsConfig struct {
	// Token is the bearer token the registry sends; empty accepts none.
	Token []byte
	// ClientCA, when set, signs the client certificates the endpoint accepts; AllowedNames,
	// when set, are their accepted common names. The serving configuration must ask clients
	// for certificates (see ApplyClientCA).
	ClientCA     dynamiccertificates.CAContentProvider
	AllowedNames []string
	// RegistryHost, when set, names the registry in dockerImageReference; otherwise the host
	// the pushing client used.
	RegistryHost string
	// Fetcher reads pushed manifests from the registry.
	Fetcher notifications.Fetcher
	// Keychain holds the credentials to read the registry; nil is anonymous.
	Keychain authn.Keychain
}

// ApplyClientCA makes the server ask TLS clients for a certificate (without requiring one)
// that the endpoint's client CA signed: the CA is added to those the server names in its
// certificate request, which clients use to choose their certificate. That list serves the
// handshake only: the API's authenticators keep their own client CA, so a certificate of the
// endpoint's CA authenticates nobody to the API.
func (n *NotificationsConfig) ApplyClientCA(auth *genericapiserver.AuthenticationInfo, serving *genericapiserver.SecureServingInfo) error {
	if n == nil || n.ClientCA == nil {
		return nil
	}
	return auth.ApplyClientCert(n.ClientCA, serving)
}

// installNotifications serves notifications.Path ahead of the whole filter chain: the registry
// authenticates with its own token or client certificate, which the API's authenticators and
// authorizers (the standalone admin token, or delegation to kube-apiserver) would refuse. The
// handler checks the token or certificate, bounds the body and the time, and writes through
// the same storage as the API.
func (c CompletedConfig) installNotifications(server *genericapiserver.GenericAPIServer, storage map[string]rest.Storage) error {
	n := c.ExtraConfig.Notifications
	if n == nil {
		return nil
	}
	images, ok1 := storage["images"].(rest.Creater)
	streams, ok2 := storage["imagestreams"].(rest.Creater)
	mappings, ok3 := storage["imagestreammappings"].(rest.Creater)
	if !ok1 || !ok2 || !ok3 {
		return fmt.Errorf("registry notifications: the images, imagestreams and imagestreammappings storage must support create")
	}
	var clientCerts authenticator.Request
	if n.ClientCA != nil {
		clientCerts = notifications.ClientCertificates(n.ClientCA, n.AllowedNames)
	}
	handler, err := notifications.New(notifications.Config{
		Token:              n.Token,
		ClientCertificates: clientCerts,
		RegistryHost:       n.RegistryHost,
		Fetcher:            n.Fetcher,
		Keychain:           n.Keychain,
		Recorder:           notifications.RESTRecorder{Images: images, Streams: streams, Mappings: mappings},
	})
	if err != nil {
		return err
	}
	notifications.RegisterMetrics()
	chain := server.Handler.FullHandlerChain
	server.Handler.FullHandlerChain = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == notifications.Path {
			handler.ServeHTTP(w, r)
			return
		}
		chain.ServeHTTP(w, r)
	})
	return nil
}
