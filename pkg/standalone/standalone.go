// Package standalone secures a server that runs without Kubernetes (D10): a
// generated admin bearer token, an authorizer that admits only that admin, health endpoints
// readable without credentials, and an admin kubeconfig.
package standalone

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/request/union"
	"k8s.io/apiserver/pkg/authentication/token/tokenfile"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	authorizationpath "k8s.io/apiserver/pkg/authorization/path"
	authorizationunion "k8s.io/apiserver/pkg/authorization/union"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// AdminUser is the identity of the generated admin token.
const AdminUser = "image-apiserver-admin"

// PublicHealthPaths may be read without credentials, so that probes and `curl /readyz` work;
// every other anonymous request is a 401.
var PublicHealthPaths = []string{"/livez", "/livez/*", "/readyz", "/readyz/*", "/healthz", "/healthz/*"}

// LoadOrCreateToken returns the admin token stored in file, creating it (mode 0600) on first
// start so that kubeconfigs written earlier keep working across restarts.
func LoadOrCreateToken(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err == nil {
		token := strings.TrimSpace(string(data))
		if token == "" {
			return "", fmt.Errorf("admin token file %s is empty: delete it to generate a new token", file)
		}
		return token, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("reading admin token: %w", err)
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	token := hex.EncodeToString(buf)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing admin token: %w", err)
	}
	return token, nil
}

// Authenticator accepts the admin token, and no credentials only on the health paths.
func Authenticator(adminToken string) authenticator.Request {
	tokens := tokenfile.New(map[string]*user.DefaultInfo{
		adminToken: {Name: AdminUser, Groups: []string{user.SystemPrivilegedGroup, user.AllAuthenticated}},
	})
	return union.New(bearertoken.New(tokens), authenticator.RequestFunc(anonymousHealth))
}

// anonymousHealth authenticates requests without an Authorization header to the health paths
// as system:anonymous. Unlike apiserver's anonymous authenticator it never applies elsewhere,
// so anonymous writes and reads of the API are 401s rather than 403s.
func anonymousHealth(req *http.Request) (*authenticator.Response, bool, error) {
	if req.Header.Get("Authorization") != "" || !isHealthPath(req.URL.Path) {
		return nil, false, nil
	}
	return &authenticator.Response{User: &user.DefaultInfo{
		Name: user.Anonymous, Groups: []string{user.AllUnauthenticated},
	}}, true, nil
}

func isHealthPath(p string) bool {
	for _, prefix := range []string{"/livez", "/readyz", "/healthz"} {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			return true
		}
	}
	return false
}

// Authorizer admits system:masters (the admin and the loopback client) everywhere, and anyone
// on the health paths.
func Authorizer() (authorizer.Authorizer, error) {
	health, err := authorizationpath.NewAuthorizer(PublicHealthPaths)
	if err != nil {
		return nil, err
	}
	return authorizationunion.New(
		authorizationunion.NamedAuthorizer{AuthorizerName: "privileged-groups", Authorizer: authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)},
		authorizationunion.NamedAuthorizer{AuthorizerName: "public-health", Authorizer: health},
	)
}

// WriteKubeconfig writes an admin kubeconfig (mode 0600) for server, trusting caFile.
func WriteKubeconfig(file, server, caFile, token string) error {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("reading serving certificate for the kubeconfig: %w", err)
	}
	const name = "image-apiserver"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	cfg.CurrentContext = name
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	if err := clientcmd.WriteToFile(*cfg, file); err != nil {
		return err
	}
	return os.Chmod(file, 0o600)
}
