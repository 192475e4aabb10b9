package imagestream

import "path"

// RegistryHostnames are the registry host names this server publishes in stream status
// (D11): --registry-hostname and --public-registry-hostname.
type RegistryHostnames struct {
	// Internal is the in-cluster registry, e.g. image-registry.openshift-image-registry.svc:5000.
	Internal string
	// Public is the registry's externally reachable name; empty when there is none.
	Public string
}

// InternalRepository is <internal>/<namespace>/<name>, or "" when no internal host is set.
func (h RegistryHostnames) InternalRepository(namespace, name string) string {
	if h.Internal == "" {
		return ""
	}
	return h.Internal + "/" + path.Join(namespace, name)
}

// PublicRepository is <public>/<namespace>/<name>, or "" when no public host is set.
func (h RegistryHostnames) PublicRepository(namespace, name string) string {
	if h.Public == "" {
		return ""
	}
	return h.Public + "/" + path.Join(namespace, name)
}
