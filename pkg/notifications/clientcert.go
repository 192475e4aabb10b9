package notifications

import (
	"net/http"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	x509request "k8s.io/apiserver/pkg/authentication/request/x509"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
)

// ClientCertificates authenticates a registry by its TLS client certificate: one that ca
// signed for client authentication, whose common name is one of allowedNames (any, when
// empty). ca is read on every request, so a CA file it watches may be rotated.
//
// This CA is the endpoint's alone: a certificate it signed authenticates nobody to the API,
// whose own client CA (if any) is separate.
func ClientCertificates(ca dynamiccertificates.CAContentProvider, allowedNames []string) authenticator.Request {
	commonName := authenticator.RequestFunc(func(r *http.Request) (*authenticator.Response, bool, error) {
		// The verifier below checked the certificate before it asks for the name.
		return &authenticator.Response{User: &user.DefaultInfo{Name: r.TLS.PeerCertificates[0].Subject.CommonName}}, true, nil
	})
	return x509request.NewDynamicCAVerifier(ca.VerifyOptions, commonName, x509request.StaticStringSlice(allowedNames))
}
