package server

import (
	"net/http"
	"strings"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
)

// anonymousOnlyOn wraps the delegated authenticator so that a request without credentials
// is anonymous only on the given paths (--authorization-always-allow-paths: /healthz, /livez,
// /readyz, which kubelet probes call without credentials) and unauthenticated (401)
// everywhere else. The generic DelegatingAuthenticationOptions always appends an
// unconditional anonymous authenticator; without this a request that bypasses the
// aggregator (no front-proxy client certificate, or a forged X-Remote-User header) would be
// served as system:anonymous and only stopped by authorization (403), and any RBAC granted to
// system:unauthenticated would apply to it.
//
// Paths match as in k8s.io/apiserver/pkg/authorization/path: exactly, or by prefix when they
// end in "*"; a leading "/" is optional.
func anonymousOnlyOn(inner authenticator.Request, paths []string) authenticator.Request {
	var exact, prefixes []string
	for _, p := range paths {
		p = strings.TrimPrefix(p, "/")
		if strings.HasSuffix(p, "*") {
			prefixes = append(prefixes, strings.TrimSuffix(p, "*"))
		} else {
			exact = append(exact, p)
		}
	}
	allowed := func(path string) bool {
		path = strings.TrimPrefix(path, "/")
		for _, p := range exact {
			if path == p {
				return true
			}
		}
		for _, p := range prefixes {
			if strings.HasPrefix(path, p) {
				return true
			}
		}
		return false
	}
	return authenticator.RequestFunc(func(req *http.Request) (*authenticator.Response, bool, error) {
		resp, ok, err := inner.AuthenticateRequest(req)
		if ok && resp != nil && resp.User != nil && resp.User.GetName() == user.Anonymous && !allowed(req.URL.Path) {
			return nil, false, nil
		}
		return resp, ok, err
	})
}
