// Package importer reads images from container registries for ImageStreamImport: it fetches
// the manifests and configs that spec.images and spec.repository name, verifies their digests,
// and turns them into Images with the same derived metadata and layers as pushed images. Every
// per-image failure becomes a metav1.Status inside the returned status, never an error of the
// call, so that one bad image does not fail the others.
//
// It knows nothing of the API server: the caller validates the request, supplies credentials as
// an authn.Keychain (see KeychainFromSecrets and KeychainFromDockerConfigFile) and writes the
// resulting Images and stream.
//
// Registry access is github.com/google/go-containerregistry's remote package. The Importer adds
// what a shared server needs around it: a token bucket per registry host, shared by all
// requests, for manifest and tag-list requests; short retries on 429, 5xx and temporary network
// errors; bounded parallelism within a request; plain HTTP and unverified TLS only for the images
// whose importPolicy.insecure allows them; an optional allow-list of registries.
package importer
