package importer

import (
	"errors"

	"github.com/google/go-containerregistry/pkg/name"
	imagev1 "github.com/openshift/api/image/v1"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/reference"
)

// defaultRegistry is the registry of a pull spec that names none.
const defaultRegistry = "docker.io"

// source is a parsed from.name: where to fetch and how to name what was fetched.
type source struct {
	// typed is the pull spec as the user wrote it; imported images are referenced as
	// `<typed repository>@<digest>`, never with registry defaults added.
	typed reference.DockerImageReference
	// registry is the registry host[:port] with the default applied.
	registry string
	// qualified is `<registry>/<repository>` with Docker Hub's "library/" default.
	qualified string
	// repo is the repository for the registry client.
	repo     name.Repository
	insecure bool
}

// parseSource parses a pull spec. An image without a tag or digest means its "latest" tag.
func parseSource(spec string, insecure bool) (source, error) {
	ref, err := reference.Parse(spec)
	if err != nil {
		return source{}, err
	}
	if ref.Name == "" {
		return source{}, errors.New("the provided repository name is not valid")
	}
	s := source{typed: ref, registry: ref.Registry, insecure: insecure}
	if s.registry == "" {
		s.registry = defaultRegistry
	}
	path := ref.Name
	switch {
	case ref.Namespace != "":
		path = ref.Namespace + "/" + ref.Name
	case s.registry == defaultRegistry:
		path = "library/" + ref.Name
	}
	s.qualified = s.registry + "/" + path
	var opts []name.Option
	if insecure {
		// Lets the client fall back to plain HTTP when HTTPS fails, for any host.
		opts = append(opts, name.Insecure)
	}
	if s.repo, err = name.NewRepository(s.qualified, opts...); err != nil {
		return source{}, err
	}
	if s.typed.ID == "" && s.typed.Tag == "" {
		s.typed.Tag = imagev1.DefaultImageTag
	}
	return s, nil
}

// pullSpec renders the image as OpenShift reports it in messages: registry and tag defaults
// applied, e.g. docker.io/library/redis:latest.
func (s source) pullSpec(tag, digest string) string {
	if digest != "" {
		return s.qualified + "@" + digest
	}
	return s.qualified + ":" + tag
}

// imageReference is the dockerImageReference of an imported image: the repository as typed
// with the digest, e.g. redis@sha256:….
func (s source) imageReference(digest string) string {
	r := s.typed
	r.Tag, r.ID = "", digest
	return r.Exact()
}
